// The operator dashboard (/admin): polls /api/stats (and the user and channel lists) once a second with the API
// key kept in this tab's sessionStorage. Everything from the server is rendered with textContent, never as HTML.
const KEY_STORE = 'herald-admin:key';
const POLL_MS = 1000;
const WINDOW = 60;
const $ = (id) => document.getElementById(id);

let key = sessionStorage.getItem(KEY_STORE) ?? '';
let timer;
/** Previous stats sample, for per-second rates. */
let prev;
/** Last 60 rate samples: { in, out }. */
const series = [];
/** Error code -> { count, lastSeen } since this page opened (counts are the server's totals). */
const errorsSeen = new Map();

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    cache: 'no-store',
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new HttpError(res.status, json?.error?.code ?? 'http_error', json?.error?.message ?? `HTTP ${res.status}`);
  return json;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text;
}

const fmt = (n) => (n >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString() : n.toFixed(1));

function uptime(s) {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

function renderStats(s) {
  const now = performance.now();
  $('stat-connections').textContent = fmt(s.connections);
  $('stat-users').textContent = fmt(s.users);
  $('stat-channels').textContent = fmt(s.channels);
  const transports = Object.entries(s.transports ?? {}).map(([t, n]) => `${t} ${n}`);
  $('stat-transports').textContent = transports.join(' · ');
  $('stat-published').textContent = `${fmt(s.published)} published`;
  $('stat-delivered').textContent = `${fmt(s.delivered)} delivered${s.dropped ? `, ${fmt(s.dropped)} dropped` : ''}`;
  $('stat-uptime').textContent = uptime(s.uptimeSeconds);
  $('stat-memory').textContent = `${(s.memory.rss / 1048576).toFixed(0)} MB resident`;
  if (prev !== undefined) {
    const secs = Math.max((now - prev.at) / 1000, 0.001);
    // A restarted server resets its counters: count that sample as zero rather than negative.
    const rin = Math.max(0, s.published - prev.published) / secs;
    const rout = Math.max(0, s.delivered - prev.delivered) / secs;
    series.push({ in: rin, out: rout });
    if (series.length > WINDOW) series.shift();
    $('stat-in').textContent = fmt(rin);
    $('stat-out').textContent = fmt(rout);
    drawChart();
  }
  prev = { at: now, published: s.published, delivered: s.delivered };
  renderErrors(s.errors ?? {});
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** A two-line chart drawn into the SVG: no library. */
function drawChart() {
  const chart = $('chart');
  const W = 600;
  const H = 180;
  const top = 12;
  const bottom = 8;
  const peak = Math.max(1, ...series.map((p) => Math.max(p.in, p.out)));
  // A round upper bound: 1, 2, 5, 10, 20, 50, ...
  const mag = 10 ** Math.floor(Math.log10(peak));
  const max = [1, 2, 5, 10].map((f) => f * mag).find((v) => v >= peak);
  const x = (i) => (W * (i + WINDOW - series.length)) / (WINDOW - 1);
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const keep = chart.querySelector('title');
  chart.replaceChildren(keep);
  for (const f of [0, 0.5, 1]) {
    chart.append(svg('line', { x1: 0, x2: W, y1: y(max * f), y2: y(max * f), class: 'grid-line' }));
    const label = svg('text', { x: 6, y: y(max * f) + (f === 1 ? 11 : -3), class: 'axis-label' });
    label.textContent = `${fmt(max * f)}/s`;
    chart.append(label);
  }
  if (series.length > 1) {
    const pts = (k) => series.map((p, i) => `${x(i).toFixed(1)},${y(p[k]).toFixed(1)}`).join(' ');
    chart.append(svg('polygon', { points: `${x(0)},${y(0)} ${pts('in')} ${x(series.length - 1)},${y(0)}`, class: 'area in' }));
    chart.append(svg('polyline', { points: pts('out'), class: 'line out' }));
    chart.append(svg('polyline', { points: pts('in'), class: 'line in' }));
  }
  const last = series[series.length - 1];
  keep.textContent = last ? `Messages per second over the last minute; now ${fmt(last.in)} in, ${fmt(last.out)} out` : 'Messages per second';
}

function renderErrors(errors) {
  const now = new Date();
  for (const [code, count] of Object.entries(errors)) {
    const seen = errorsSeen.get(code);
    if (seen === undefined) errorsSeen.set(code, { count, lastSeen: undefined, bumped: false });
    else if (count > seen.count) errorsSeen.set(code, { count, lastSeen: now, bumped: true });
    else seen.bumped = false;
  }
  const body = $('errors').tBodies[0];
  body.replaceChildren();
  // Most recent first, then the biggest counts.
  const rows = [...errorsSeen].sort(([, a], [, b]) => (b.lastSeen ?? 0) - (a.lastSeen ?? 0) || b.count - a.count);
  for (const [code, e] of rows) {
    const tr = el('tr', undefined, e.bumped ? 'bumped' : '');
    tr.dataset.code = code;
    tr.append(el('td', code), el('td', fmt(e.count), 'num'), el('td', e.lastSeen ? e.lastSeen.toLocaleTimeString() : 'earlier'));
    body.append(tr);
  }
  $('errors-empty').hidden = rows.length > 0;
}

function renderUsers(list) {
  const ul = $('users');
  ul.replaceChildren();
  for (const u of list.users) {
    const li = el('li');
    li.dataset.user = u.user;
    const avatar = el('span', u.user.slice(0, 1), 'avatar');
    avatar.setAttribute('aria-hidden', 'true');
    const name = el('button', u.user, 'name linkish');
    name.type = 'button';
    name.title = `Look up user ${u.user}`;
    name.addEventListener('click', () => lookup('user', u.user));
    li.append(avatar, name, el('span', u.connections === 1 ? '1 connection' : `${u.connections} connections`, 'meta'));
    ul.append(li);
  }
  $('users-count').textContent = list.count > list.users.length ? `(${list.users.length} of ${list.count})` : `(${list.count})`;
  $('users-empty').hidden = list.count > 0;
}

function renderChannels(list) {
  const body = $('channels').tBodies[0];
  body.replaceChildren();
  for (const c of list.channels) {
    const tr = el('tr');
    tr.dataset.channel = c.channel;
    const td = el('td');
    const b = el('button', c.channel, 'linkish');
    b.type = 'button';
    b.title = `Look up channel ${c.channel}`;
    b.addEventListener('click', () => lookup('channel', c.channel));
    td.append(b);
    tr.append(td, el('td', fmt(c.connections), 'num'), el('td', fmt(c.users), 'num'));
    body.append(tr);
  }
  $('channels-count').textContent = `(${list.count})`;
  $('channels-empty').hidden = list.count > 0;
}

async function poll() {
  try {
    const [stats, users, channels] = await Promise.all([api('GET', '/api/stats'), api('GET', '/api/users?limit=100'), api('GET', '/api/channels?limit=100')]);
    renderStats(stats);
    renderUsers(users);
    renderChannels(channels);
    setStatus('ok', 'live');
    document.body.dataset.polls = String(Number(document.body.dataset.polls ?? 0) + 1);
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) {
      signOut('The API key was refused.');
      return;
    }
    setStatus('error', 'server unreachable');
  }
  if (key) timer = setTimeout(poll, POLL_MS);
}

async function lookup(kind, name) {
  $('lookup-kind').value = kind;
  $('lookup-name').value = name;
  $('lookup-error').textContent = '';
  const out = $('lookup-result');
  try {
    const r = await api('GET', `/api/${kind === 'user' ? 'users' : 'channels'}/${encodeURIComponent(name)}`);
    out.replaceChildren();
    const asOf = ` (as of ${new Date().toLocaleTimeString()})`;
    if (kind === 'user') {
      out.append(el('p', r.online ? `${r.user} is online with ${r.connections} connection${r.connections === 1 ? '' : 's'}; ${r.pending} message(s) not yet acknowledged${asOf}.` : `${r.user} is offline; ${r.pending} message(s) waiting in the inbox${asOf}.`, 'summary'));
      if (r.sessions.length > 0) {
        const table = el('table');
        table.innerHTML = '<thead><tr><th scope="col">Session</th><th scope="col">Transport</th><th scope="col">Channels</th></tr></thead><tbody></tbody>';
        for (const s of r.sessions) {
          const tr = el('tr');
          tr.append(el('td', s.session), el('td', s.transport), el('td', s.channels.join(', ') || '–'));
          table.tBodies[0].append(tr);
        }
        out.append(table);
      }
    } else {
      out.append(el('p', `#${r.channel}: ${r.connections} connection${r.connections === 1 ? '' : 's'} from ${r.users.length} user${r.users.length === 1 ? '' : 's'}${asOf}.`, 'summary'));
      if (r.users.length > 0) {
        const ul = el('ul', undefined, 'people');
        for (const u of r.users) {
          const li = el('li');
          const avatar = el('span', u.slice(0, 1), 'avatar');
          avatar.setAttribute('aria-hidden', 'true');
          li.append(avatar, el('span', u, 'name'));
          ul.append(li);
        }
        out.append(ul);
      }
    }
  } catch (err) {
    out.replaceChildren();
    $('lookup-error').textContent = `${err.code ?? 'error'}: ${err.message}`;
  }
}

function signOut(message) {
  key = '';
  sessionStorage.removeItem(KEY_STORE);
  clearTimeout(timer);
  prev = undefined;
  series.length = 0;
  $('dash').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message ?? '';
  setStatus('idle', 'signed out');
  $('key').focus();
}

function signedIn() {
  $('signin').hidden = true;
  $('dash').hidden = false;
  $('signout').hidden = false;
  drawChart();
  poll();
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  key = $('key').value.trim();
  try {
    await api('GET', '/api/stats');
  } catch (err) {
    key = '';
    $('signin-error').textContent = err instanceof HttpError && err.status === 401 ? 'That API key is not valid for this server.' : `Cannot reach the server: ${err.message}`;
    return;
  }
  sessionStorage.setItem(KEY_STORE, key);
  $('key').value = '';
  signedIn();
});

$('signout').addEventListener('click', () => signOut());

$('lookup-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('lookup-name').value.trim();
  if (name) lookup($('lookup-kind').value, name);
});

$('pub-kind').addEventListener('change', () => {
  $('pub-target').disabled = $('pub-kind').value === 'all';
});

/** Who a test publish reached, and where in the demo (/) a person sees it: "delivered to 2" alone says neither. */
async function whereItWent(kind, target, event, delivered) {
  const onDemo = kind === 'all' || (kind === 'channel' && target === 'orders' && (event === '' || event === 'announcement'));
  const seen = onDemo ? ' Open demo pages (/) show it as an announcement.' : kind === 'user' ? ` The demo (/) shows it in ${target}'s notifications.` : '';
  if (kind === 'all') return ` (everyone connected).${seen}`;
  if (kind === 'user') return delivered > 0 ? ` of user ${target}.${seen}` : `: no connection of user ${target} here now; it waits in their inbox for their next connection.`;
  if (delivered === 0) return `: no connection here is subscribed to channel ${target} now; it is kept in the channel's history.`;
  let users = '';
  try {
    const c = await api('GET', `/api/channels/${encodeURIComponent(target)}`);
    users = c.users.length > 0 ? ` (${c.users.join(', ')})` : '';
  } catch {
    // Only a detail of the sentence: the publish itself succeeded.
  }
  return ` on channel ${target}${users}.${seen}`;
}

$('publish-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const kind = $('pub-kind').value;
  const target = $('pub-target').value.trim();
  $('publish-error').textContent = '';
  $('publish-result').textContent = '';
  if (kind !== 'all' && !target) {
    $('publish-error').textContent = `Enter the ${kind} to publish to.`;
    return;
  }
  const text = $('pub-data').value;
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  const event = $('pub-event').value.trim();
  const body = { to: kind === 'all' ? { all: true } : { [kind]: target }, data, ...(event ? { event } : {}) };
  try {
    const r = await api('POST', '/api/publish', body);
    $('publish-result').textContent = `Published: delivered to ${r.delivered} connection(s)${await whereItWent(kind, target, event, r.delivered)}\n${JSON.stringify(r, null, 2)}`;
  } catch (err) {
    $('publish-error').textContent = `${err.code ?? 'error'}: ${err.message}`;
  }
});

if (key) signedIn();
else signOut();
