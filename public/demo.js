// The live-list demo (seed 000): rows come from the demo backend's SQLite table; new rows, presence, private
// notifications and announcements (the admin dashboard's test publish, for one) are pushed by Herald. Plain browser JavaScript over the SDK the server builds, no build step.
// Everything received is rendered with textContent, never as HTML: pushed data is untrusted.
import { Herald } from '/sdk/herald.js';

const CHANNEL = 'orders';
const MAX_ROWS = 200;
const MAX_NOTES = 50;
const MAX_ANNOUNCEMENTS = 3;
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
const user = (params.get('user') ?? sessionStorage.getItem('herald-demo:user') ?? '').trim();

/** Orders by id, so a row fetched and also pushed (or replayed) shows once. */
const orders = new Map();
let presenceSeq = 0;
let token = '';

function setState(state, text = state) {
  $('state').dataset.state = state;
  $('state').textContent = text;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function timeEl(ms) {
  const t = el('time', new Date(ms).toLocaleTimeString());
  t.dateTime = new Date(ms).toISOString();
  return t;
}

function isOrder(o) {
  return typeof o === 'object' && o !== null && Number.isInteger(o.id) && typeof o.item === 'string';
}

function addOrder(o, fresh) {
  if (!isOrder(o) || orders.has(o.id)) return;
  orders.set(o.id, o);
  const tr = document.createElement('tr');
  tr.dataset.id = String(o.id);
  if (fresh) tr.className = 'fresh';
  const when = el('td');
  when.append(timeEl(Number(o.createdAt) || Date.now()));
  tr.append(el('td', o.id, 'num'), el('td', o.item), el('td', o.quantity, 'num'), el('td', o.user), when);
  // Newest first: insert before the first row with a smaller id.
  const body = $('orders').tBodies[0];
  const next = [...body.rows].find((r) => Number(r.dataset.id) < o.id);
  body.insertBefore(tr, next ?? null);
  while (body.rows.length > MAX_ROWS) {
    const last = body.rows[body.rows.length - 1];
    orders.delete(Number(last.dataset.id));
    last.remove();
  }
  $('orders-empty').hidden = body.rows.length > 0;
  $('orders-count').textContent = `(${body.rows.length})`;
}

function setPresence(p) {
  if (typeof p !== 'object' || p === null || !Array.isArray(p.users) || !(p.seq > presenceSeq)) return;
  presenceSeq = p.seq;
  const ul = $('online');
  ul.replaceChildren();
  for (const u of p.users) {
    if (typeof u?.user !== 'string') continue;
    const li = el('li');
    li.dataset.user = u.user;
    li.dataset.connections = String(u.connections);
    const avatar = el('span', u.user.slice(0, 1), 'avatar');
    avatar.setAttribute('aria-hidden', 'true');
    const dot = el('span', undefined, 'dot');
    dot.setAttribute('aria-hidden', 'true');
    const tabs = u.connections === 1 ? '1 tab' : `${u.connections} tabs`;
    li.append(avatar, el('span', u.user === user ? `${u.user} (you)` : u.user, 'name'), el('span', tabs, 'meta'), dot);
    ul.append(li);
  }
  $('online-count').textContent = `(${ul.children.length})`;
}

/** What a pushed value says to a person: its `text`, a string as is, anything else as JSON. */
function textOf(data) {
  if (typeof data === 'string') return data;
  return typeof data === 'object' && data !== null && typeof data.text === 'string' ? data.text : JSON.stringify(data);
}

function addNotice(data) {
  const text = textOf(data);
  const li = el('li', undefined, 'fresh');
  li.append(timeEl(Date.now()), el('span', text));
  $('notices').prepend(li);
  while ($('notices').children.length > MAX_NOTES) $('notices').lastElementChild.remove();
  $('notices-empty').hidden = true;
}

/** A message for everyone on the page (a broadcast, or the orders channel without an order or presence event). */
function addAnnouncement(data) {
  const li = el('li', undefined, 'fresh');
  const close = el('button', '×');
  close.type = 'button';
  close.setAttribute('aria-label', 'Dismiss the announcement');
  close.addEventListener('click', () => li.remove());
  li.append(el('span', 'Announcement', 'label'), el('span', textOf(data), 'text'), timeEl(Date.now()), close);
  $('announcements').prepend(li);
  while ($('announcements').children.length > MAX_ANNOUNCEMENTS) $('announcements').lastElementChild.remove();
}

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/** The current list and presence; called after every (re)subscribe, so nothing published meanwhile is missed. */
async function load() {
  const [list, online] = await Promise.all([getJson('/demo/orders'), getJson('/demo/online')]);
  for (const o of [...list.orders].reverse()) addOrder(o, false);
  setPresence(online);
  document.body.dataset.live = 'true';
}

async function fetchToken() {
  const res = await fetch(`/dev/token?user=${encodeURIComponent(user)}&channels=${CHANNEL}`, { cache: 'no-store' });
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try {
      message = (await res.json()).error?.message ?? message;
    } catch {
      // Not a JSON error body (a proxy's page): the status line says enough.
    }
    throw new Error(`no token for ${user}: ${message}`);
  }
  token = (await res.json()).token;
  return token;
}

function showSignIn(error) {
  $('signin').hidden = false;
  $('app').hidden = true;
  $('signin-error').textContent = error ?? '';
  if (user) $('signin-user').value = user;
  $('signin-user').focus();
}

async function start() {
  try {
    await fetchToken();
  } catch (err) {
    showSignIn(`${err.message}. The demo needs dev mode (npm start) and a loopback browser.`);
    return;
  }
  $('app').hidden = false;
  $('who').hidden = false;
  $('who').textContent = `Signed in as ${user}`;
  $('another-tab').href = `/?user=${encodeURIComponent(user)}`;
  document.title = `Live orders (${user}) · Herald demo`;

  // storage: null keeps stream positions per tab: two users in one browser must not share them.
  const herald = new Herald({ url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, token: fetchToken, storage: null });
  herald.on('state', ({ state }) => setState(state, state === 'connected' ? 'live' : state));
  herald.on('message', (m) => {
    if (m.channel === CHANNEL && m.event === 'order') addOrder(m.data, true);
    else if (m.channel === CHANNEL && m.event === 'online') setPresence(m.data);
    else if (m.stream === `user:${user}`) addNotice(m.data);
    else if (m.stream === 'broadcast' || (m.channel === CHANNEL && (m.event === undefined || m.event === 'announcement'))) addAnnouncement(m.data);
  });
  herald.on('subscribed', ({ channel }) => {
    if (channel === CHANNEL) load().catch((err) => ($('order-error').textContent = `Could not load the orders: ${err.message}`));
  });
  herald.on('error', ({ code, message }) => console.warn('herald', code, message));
  herald.connect();
  herald.subscribe(CHANNEL).catch((err) => ($('order-error').textContent = `Could not subscribe: ${err.message}`));
  window.herald = herald;
}

$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('signin-user').value.trim();
  if (!name) return;
  sessionStorage.setItem('herald-demo:user', name);
  location.search = `?user=${encodeURIComponent(name)}`;
});

$('order-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const item = $('item').value.trim();
  const quantity = Number($('quantity').value);
  if (!item) return;
  $('order-error').textContent = '';
  // The form is hidden until sign-in; should it be submitted anyway, say what to do rather than what the API wants.
  if (!token) {
    $('order-error').textContent = 'Sign in first: choose a user name above.';
    return;
  }
  $('place').disabled = true;
  try {
    const res = await fetch('/demo/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ item, quantity }),
    });
    const body = await res.json();
    if (res.status === 401) throw new Error('this page is no longer signed in; reload it to sign in again');
    if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
    $('item').value = '';
    $('quantity').value = '1';
    $('item').focus();
  } catch (err) {
    $('order-error').textContent = `Order not placed: ${err.message}`;
  } finally {
    $('place').disabled = false;
  }
});

if (user) {
  sessionStorage.setItem('herald-demo:user', user);
  start();
} else {
  showSignIn();
}
