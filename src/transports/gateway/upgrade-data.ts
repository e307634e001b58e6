// The ON_WEBSOCKET_CONNECT body (reference §9.3, workerman 4's layout): serialize(['get' => ..., 'server' => ...,
import type { UpgradeRequest } from '../../net/websocket/handshake.ts';
// 'cookie' => ...]) of the upgrade request, so that `onWebSocketConnect($client_id, $data)` reads what it reads
// under the original.
import { PhpArray, serialize, type PhpValue } from '../../protocol/php/index.ts';

/** urldecode(): `+` is a space, `%XX` a byte; malformed escapes stay as they are. Bytes that are not UTF-8 stay bytes. */
function urldecode(s: string): string | Buffer {
  if (!s.includes('%') && !s.includes('+')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) bytes.push(0x20);
    else if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else for (const b of Buffer.from(s[i]!)) bytes.push(b);
  }
  const buf = Buffer.from(bytes);
  const text = buf.toString('utf8');
  return Buffer.from(text).equals(buf) ? text : buf;
}

/**
 * PHP's parse_str() for the common forms: `a=1&b=2`, `a[]=x` (a list), `a[k]=v` (a map), nested brackets; in the
 * top-level name, spaces and dots become `_`. A later value for the same key replaces the earlier one in place.
 */
export function parseStr(query: string): PhpArray {
  const out = new PhpArray();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = urldecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = urldecode(eq === -1 ? '' : pair.slice(eq + 1));
    const key = typeof rawKey === 'string' ? rawKey : rawKey.toString('latin1');
    const open = key.indexOf('[');
    const base = (open > 0 ? key.slice(0, open) : key).replace(/[ .]/g, '_');
    if (base === '') continue;
    const path: string[] = [];
    let rest = open > 0 ? key.slice(open) : '';
    while (rest.startsWith('[')) {
      const close = rest.indexOf(']');
      if (close === -1) break;
      path.push(rest.slice(1, close));
      rest = rest.slice(close + 1);
    }
    assign(out, base, path, value);
  }
  return out;
}

function assign(target: PhpArray, key: string, path: string[], value: PhpValue): void {
  if (path.length === 0) {
    target.set(key, value);
    return;
  }
  let child = target.get(key);
  if (!(child instanceof PhpArray)) {
    child = new PhpArray();
    target.set(key, child);
  }
  const [next, ...more] = path as [string, ...string[]];
  if (next === '') {
    if (more.length === 0) child.push(value);
    else {
      const inner = new PhpArray();
      child.push(inner);
      assign(child, String(lastKey(child)), more, value);
    }
  } else assign(child, next, more, value);
}

function lastKey(a: PhpArray): string | number | bigint | Buffer {
  let last: string | number | bigint | Buffer = 0;
  for (const k of a.keys()) last = k;
  return last;
}

/** The body of ON_WEBSOCKET_CONNECT for an upgrade request, as workerman 4.x builds `$_GET`, `$_SERVER`, `$_COOKIE`. */
export function upgradeData(req: UpgradeRequest): Buffer {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const query = q === -1 ? '' : url.slice(q + 1);
  const server = new PhpArray();
  server.set('REQUEST_METHOD', req.method ?? 'GET');
  server.set('REQUEST_URI', url);
  server.set('SERVER_PROTOCOL', `HTTP/${req.httpVersion}`);
  let cookie = '';
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!.trim();
    const key = `HTTP_${name.toUpperCase().replace(/-/g, '_')}`;
    server.set(key, value);
    if (key === 'HTTP_HOST') {
      const colon = value.lastIndexOf(':');
      const hasPort = colon !== -1 && !value.endsWith(']');
      server.set('SERVER_NAME', hasPort ? value.slice(0, colon) : value);
      if (hasPort) server.set('SERVER_PORT', value.slice(colon + 1));
    }
    if (key === 'HTTP_COOKIE') cookie = value;
  }
  server.set('QUERY_STRING', query);
  const data = new PhpArray();
  data.set('get', parseStr(query));
  data.set('server', server);
  data.set('cookie', parseStr(cookie.replace(/; /g, '&')));
  return serialize(data);
}
