// The playground page (/playground.html): plain browser JavaScript over the SDK the server builds, no build step. Everything received
// is rendered with textContent, never as HTML: pushed data is untrusted.
import { Herald } from '/sdk/herald.js';

const $ = (id) => document.getElementById(id);
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
const MAX_LOG = 200;

/** @type {Herald | undefined} */
let client;

function setBusy(connected) {
  $('connect').disabled = connected;
  $('user').disabled = connected;
  $('disconnect').disabled = !connected;
  for (const form of ['subscribe-form', 'send-form']) $(form).querySelector('button').disabled = !connected;
}

function showState(state) {
  $('state').textContent = state;
  $('state').dataset.state = state;
}

function log(kind, text, detail) {
  const li = document.createElement('li');
  li.className = kind;
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  const head = document.createElement('span');
  head.textContent = text;
  li.append(time, head);
  if (detail !== undefined) {
    const pre = document.createElement('pre');
    pre.textContent = detail;
    li.append(pre);
  }
  $('log').prepend(li);
  while ($('log').children.length > MAX_LOG) $('log').lastElementChild.remove();
}

function renderChannels() {
  const ul = $('channels');
  ul.replaceChildren();
  const channels = client && client.state !== 'closed' ? client.subscriptions() : [];
  for (const channel of channels) {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = channel;
    const x = document.createElement('button');
    x.type = 'button';
    x.className = 'link';
    x.title = `unsubscribe from ${channel}`;
    x.textContent = '×';
    x.addEventListener('click', () => {
      client?.unsubscribe(channel).catch((err) => log('error', `unsubscribe ${channel}: ${err.code ?? err.message}`));
      renderChannels();
    });
    li.append(name, x);
    ul.append(li);
  }
}

/** Quotes for a POSIX shell: single quotes, with embedded ones closed, escaped and reopened. */
const shq = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

function renderCurl() {
  const user = $('user').value.trim() || 'alice';
  const body = JSON.stringify({ to: { user }, event: 'note', data: { text: 'hello from curl' } });
  $('curl').textContent = [
    `curl -X POST ${location.origin}/api/publish \\`,
    `  -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\`,
    `  -d ${shq(body)}`,
  ].join('\n');
  $('token-cmd').textContent = `npx herald token ${shq(user)} --channels '*'`;
}

/** A dev token when the server allows it; otherwise undefined, and the page asks for a pasted one. */
async function devToken(user) {
  try {
    const res = await fetch(`/dev/token?user=${encodeURIComponent(user)}`);
    if (!res.ok) return undefined;
    return (await res.json()).token;
  } catch {
    return undefined;
  }
}

async function connect(user) {
  setBusy(true);
  const pasted = $('token').value.trim();
  let token;
  if (pasted) {
    token = pasted;
  } else {
    let first = await devToken(user);
    if (first === undefined) {
      setBusy(false);
      $('paste').hidden = false;
      $('token').focus();
      log('error', 'no dev token: paste a token to connect');
      return;
    }
    // A function, so each reconnect gets a fresh token instead of retrying an expired one.
    token = async () => {
      const t = first ?? (await devToken(user));
      first = undefined;
      if (t === undefined) throw new Error('GET /dev/token failed');
      return t;
    };
  }

  const c = new Herald({ url: wsUrl, token });
  client = c;
  c.on('state', ({ state }) => {
    if (client !== c) return;
    showState(state);
    setBusy(state !== 'closed');
    if (state !== 'connected') $('session').textContent = '';
    if (state === 'closed') renderChannels();
  });
  c.on('connected', ({ session, user: u }) => {
    $('session').textContent = `Connected as ${u} (session ${session}).`;
    log('info', `connected as ${u}`);
  });
  c.on('disconnected', ({ code, reason, willReconnect }) =>
    log('info', `disconnected (${code}${reason ? ` ${reason}` : ''})${willReconnect ? ', reconnecting' : ''}`),
  );
  c.on('error', ({ code, message, channel }) => log('error', `${code}${channel ? ` (${channel})` : ''}: ${message}`));
  c.on('subscribed', renderChannels);
  c.on('unsubscribed', renderChannels);
  c.on('message', (m) => {
    const where = m.channel !== undefined ? `#${m.channel}` : m.stream;
    log('message', `${where} @${m.offset}${m.event ? ` [${m.event}]` : ''}`, JSON.stringify(m.data, null, 2));
  });
  c.connect();
}

$('connect-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const user = $('user').value.trim();
  if (user) connect(user);
});

$('disconnect').addEventListener('click', () => client?.close());

$('subscribe-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const channel = $('channel').value.trim();
  if (!client || !channel) return;
  const c = client;
  c.subscribe(channel).then(
    () => log('info', `subscribed to ${channel}`),
    (err) => log('error', `subscribe ${channel}: ${err.code ?? ''} ${err.message}`),
  ).finally(renderChannels);
  renderChannels();
});

$('send-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (!client) return;
  const text = $('data').value;
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  const event = $('event').value.trim() || undefined;
  const out = $('reply');
  out.hidden = false;
  out.className = 'reply';
  out.textContent = 'waiting for the reply...';
  client.send(data, event).then(
    (reply) => {
      out.textContent = `reply: ${JSON.stringify(reply, null, 2)}`;
    },
    (err) => {
      out.className = 'reply error';
      out.textContent = `error ${err.code ?? ''}: ${err.message}`;
    },
  );
});

$('copy').addEventListener('click', async () => {
  const text = $('curl').textContent;
  try {
    await navigator.clipboard.writeText(text);
    $('copy').textContent = 'Copied';
  } catch {
    // Clipboard access needs a secure context; selecting the text still lets the user copy it.
    getSelection()?.selectAllChildren($('curl'));
    $('copy').textContent = 'Press Ctrl+C';
  }
  setTimeout(() => ($('copy').textContent = 'Copy'), 1500);
});

$('clear').addEventListener('click', () => $('log').replaceChildren());
$('user').addEventListener('input', renderCurl);
renderCurl();
