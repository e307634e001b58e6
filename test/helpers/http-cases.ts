// Request bytes for the HTTP fast lane's differential tests: the cases of issue 16 and the ones found since (a
// corpus, by name), and generated mutations of publish requests from a seeded PRNG: header names and values over
// all byte values, duplicated and conflicting framing headers, line endings, folding, request-line variants,
// bodies shorter or longer than announced, pipelining, and the chunk splits a socket may deliver.

export const MAX_BODY = 4096;
const AUTH = 'Bearer fuzz-key-0123456789abcdef';
const body = (i: number): string => JSON.stringify({ to: { user: `u${i}` }, data: { i } });

/** A publish request with these header lines (CRLF) and the body, Content-Length not added. */
const raw = (lines: string[], b = body(1), path = '/api/publish'): Buffer =>
  Buffer.from(`POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}${lines.length ? '\r\n' : ''}\r\n${b}`, 'latin1');
/** A WebSocket handshake with these header lines, then `after` (the first bytes of the new protocol). */
const upgrade = (lines: string[], after = '', requestLine = 'GET /ws?token=abc HTTP/1.1'): Buffer =>
  Buffer.from(`${requestLine}\r\n${lines.join('\r\n')}${lines.length ? '\r\n' : ''}\r\n${after}`, 'latin1');
const HANDSHAKE = [
  'Host: herald:8080',
  'Connection: Upgrade',
  'Upgrade: websocket',
  'Sec-WebSocket-Version: 13',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Origin: http://example.com',
];
const std = (extra: string[] = []): string[] => ['Host: herald', `Authorization: ${AUTH}`, 'Content-Type: application/json', ...extra];
const cl = (b = body(1)): string => `Content-Length: ${Buffer.byteLength(b)}`;
const ok = (extra: string[] = [], b = body(1)): Buffer => raw([...std(extra), cl(b)], b);

/** Every case named in issue 16 and those found with the fuzzer, with the bytes that reproduce it. */
export const CORPUS: { name: string; bytes: Buffer }[] = [
  { name: 'plain publish', bytes: ok() },
  { name: 'plain batch', bytes: raw([...std(), cl('{"messages":[]}')], '{"messages":[]}', '/api/publish/batch') },
  { name: 'no Host on HTTP/1.1', bytes: raw([`Authorization: ${AUTH}`, cl()]) },
  { name: 'space in a header name', bytes: ok(['X Y: 1']) },
  { name: 'tab in a header name', bytes: ok(['X\tY: 1']) },
  { name: '@ in a header name', bytes: ok(['X@Y: 1']) },
  { name: 'NUL in a header value', bytes: ok(['X: a\x00b']) },
  { name: 'bare CR in a header value', bytes: ok(['X: a\rb']) },
  { name: '0x01 in a header value', bytes: ok(['X: a\x01b']) },
  { name: 'DEL in a header value', bytes: ok(['X: a\x7fb']) },
  { name: 'Content-Length followed by VT', bytes: raw([...std(), `Content-Length: ${body(1).length}\x0b`]) },
  { name: 'Content-Length preceded by NBSP', bytes: raw([...std(), `Content-Length: \xa0${body(1).length}`]) },
  { name: 'Transfer-Encoding with DEL before the colon', bytes: raw([...std(), 'Transfer-Encoding\x7f: chunked', cl()]) },
  {
    name: 'bare LF hides Transfer-Encoding: chunked',
    bytes: raw([...std(), 'X: a\nTransfer-Encoding: chunked', cl()], `${body(1).length.toString(16)}\r\n${body(1)}\r\n0\r\n\r\n`),
  },
  { name: 'bare LF hides a second Content-Length: 0', bytes: raw([...std(), 'X: a\nContent-Length: 0', cl()]) },
  { name: 'Connection: close with a pipelined request', bytes: Buffer.concat([ok(['Connection: close']), ok()]) },
  { name: 'Connection: xclose (keep-alive for llhttp) with a pipelined request', bytes: Buffer.concat([ok(['Connection: xclose']), ok()]) },
  { name: 'Connection: keep-alive, close', bytes: Buffer.concat([ok(['Connection: keep-alive, close']), ok()]) },
  { name: 'Proxy-Connection: close (read as Connection by llhttp)', bytes: Buffer.concat([ok(['Proxy-Connection: close']), ok()]) },
  { name: 'two Content-Lengths, equal', bytes: raw([...std(), cl(), cl()]) },
  { name: 'Content-Length list', bytes: raw([...std(), `Content-Length: ${body(1).length}, ${body(1).length}`]) },
  { name: 'Content-Length with a plus sign', bytes: raw([...std(), `Content-Length: +${body(1).length}`]) },
  { name: 'Content-Length with leading zeros', bytes: raw([...std(), `Content-Length: 000${body(1).length}`]) },
  { name: 'Content-Length with trailing tab', bytes: raw([...std(), `Content-Length: ${body(1).length}\t`]) },
  {
    name: 'Content-Length and chunked',
    bytes: raw([...std(), 'Transfer-Encoding: chunked', cl()], `${body(1).length.toString(16)}\r\n${body(1)}\r\n0\r\n\r\n`),
  },
  { name: 'folded header line', bytes: ok(['X: a', ' folded']) },
  { name: 'space before the colon', bytes: raw([...std(), `Content-Length : ${body(1).length}`]) },
  { name: 'Expect: 100-continue', bytes: ok(['Expect: 100-continue']) },
  { name: 'Expect: something else (417)', bytes: Buffer.concat([ok(['Expect: other']), ok()]) },
  { name: 'Upgrade', bytes: ok(['Connection: Upgrade', 'Upgrade: websocket']) },
  { name: 'HTTP/1.0 publish', bytes: Buffer.from(ok().toString('latin1').replace('HTTP/1.1', 'HTTP/1.0'), 'latin1') },
  { name: 'empty lines before a request', bytes: Buffer.concat([Buffer.from('\r\n\r\n'), ok()]) },
  { name: 'LF line endings throughout', bytes: Buffer.from(ok().toString('latin1').replace(/\r\n/g, '\n'), 'latin1') },
  { name: 'empty Host', bytes: raw(['Host:', `Authorization: ${AUTH}`, cl()]) },
  { name: 'two Hosts', bytes: raw(['Host: a', 'Host: b', `Authorization: ${AUTH}`, cl()]) },
  { name: 'Authorization with trailing spaces and tabs', bytes: raw(['Host: h', `Authorization: \t${AUTH} \t `, cl()]) },
  { name: 'obs-text in a header value', bytes: ok(['X: caf\xe9 \xff']) },
  { name: 'body longer than the Content-Length (junk next request)', bytes: raw([...std(), 'Content-Length: 5'], body(1)) },
  { name: 'body shorter than the Content-Length (waits)', bytes: raw([...std(), 'Content-Length: 500'], body(1)) },
  { name: 'body over the limit', bytes: raw([...std(), `Content-Length: ${MAX_BODY + 1}`], 'x'.repeat(MAX_BODY + 1)) },
  { name: 'three pipelined, then a GET', bytes: Buffer.concat([ok(), ok(), ok(), Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')]) },
  { name: 'WebSocket handshake', bytes: upgrade(HANDSHAKE) },
  { name: 'WebSocket handshake with a frame after it', bytes: upgrade(HANDSHAKE, '\x81\x85abcd') },
  { name: 'publish, then a WebSocket handshake', bytes: Buffer.concat([ok(), upgrade(HANDSHAKE)]) },
  { name: 'handshake without Host', bytes: upgrade(HANDSHAKE.slice(1)) },
  { name: 'handshake with two Hosts', bytes: upgrade([...HANDSHAKE, 'Host: b']) },
  { name: 'handshake with Connection: keep-alive, Upgrade', bytes: upgrade(['Host: h', 'Connection: keep-alive, Upgrade', 'Upgrade: websocket']) },
  { name: 'handshake with Connection: Upgrade, tab', bytes: upgrade(['Host: h', 'Connection: Upgrade\t', 'Upgrade: websocket']) },
  { name: 'handshake with a body', bytes: upgrade([...HANDSHAKE, 'Content-Length: 2'], 'ab') },
  { name: 'handshake with an empty Upgrade', bytes: upgrade(['Host: h', 'Connection: Upgrade', 'Upgrade:']) },
  { name: 'handshake with a quote in the target', bytes: upgrade(HANDSHAKE, '', 'GET /w"s HTTP/1.1') },
  { name: 'handshake with two Cookie lines', bytes: upgrade([...HANDSHAKE, 'Cookie: a=1', 'Cookie: b=2']) },
];

const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const FRAMING_NAMES = [
  'Content-Length',
  'content-length',
  'CONTENT-LENGTH',
  'Transfer-Encoding',
  'Connection',
  'Proxy-Connection',
  'Host',
  'Expect',
  'Upgrade',
  'Authorization',
  'Keep-Alive',
  'TE',
];
const FRAMING_VALUES = [
  'chunked',
  'identity',
  'gzip, chunked',
  'chunked, gzip',
  'close',
  'keep-alive',
  'Close',
  'upgrade',
  'keep-alive, close',
  'xclose',
  'close,',
  ',close',
  '100-continue',
  'websocket',
  '0',
  '00',
  '1',
  '-1',
  '+1',
  '2 2',
  '2,2',
  '1e3',
  '0x10',
  '4294967296',
  '18446744073709551617',
  '',
  ' ',
  '\t',
  'h',
];
const WS = [' ', '\t', '\x0b', '\x0c', '\xa0', '\x00', '\r', '\n', '\x85', '  ', ' \t'];
const REQUEST_LINES = [
  'POST /api/publish HTTP/1.1',
  'POST /api/publish/batch HTTP/1.1',
  'post /api/publish HTTP/1.1',
  'POST  /api/publish HTTP/1.1',
  'POST /api/publish  HTTP/1.1',
  'POST /api/publish HTTP/1.0',
  'POST /api/publish HTTP/1.2',
  'POST /api/publish HTTP/2.0',
  'POST /api/publish?x=1 HTTP/1.1',
  'POST /api//publish HTTP/1.1',
  'POST /api/publish/ HTTP/1.1',
  'POST /api/publish#f HTTP/1.1',
  'POST http://h/api/publish HTTP/1.1',
  'PUT /api/publish HTTP/1.1',
  'POST /api/publish HTTP/1.1 ',
  'POST\t/api/publish HTTP/1.1',
  'POST /api/publish/batch HTTP/1.10',
  'POST /api/publish%2Fbatch HTTP/1.1',
];
const EOLS = ['\n', '\r', '\r\r\n', '\n\r', '\r\n\r\n', ' \r\n', '\r \n'];

type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const anyByte = (r: Rand): string => String.fromCharCode(int(r, 256));
const bytes = (r: Rand, n: number, tchar: number): string => {
  let s = '';
  for (let k = 0; k < n; k++) s += r() < tchar ? pick(r, [...TCHAR]) : anyByte(r);
  return s;
};

/** One byte of one head line changed, inserted or deleted. */
function mutateByte(r: Rand, lines: string[]): void {
  const i = int(r, lines.length);
  const s = lines[i]!;
  const at = int(r, s.length + 1);
  lines[i] = s.slice(0, at) + pick(r, ['', anyByte(r)]) + s.slice(at + (r() < 0.5 ? 1 : 0));
}

/** One generated case: one to three requests, mutated, the last maybe cut short. */
export function generate(r: Rand): Buffer {
  const n = 1 + (r() < 0.3 ? int(r, 3) : 0);
  const parts: Buffer[] = [];
  for (let k = 0; k < n; k++) parts.push(r() < 0.75 ? mutated(r, k) : ok([], body(k)));
  // A handshake is the last request a connection sends in HTTP: what follows it is WebSocket frames.
  if (r() < 0.3) parts.push(mutatedUpgrade(r));
  let out = Buffer.concat(parts);
  if (r() < 0.1) out = out.subarray(0, int(r, out.length + 1));
  return out;
}

function mutated(r: Rand, id: number): Buffer {
  let b = body(id);
  let requestLine = r() < 0.85 ? (r() < 0.8 ? 'POST /api/publish HTTP/1.1' : 'POST /api/publish/batch HTTP/1.1') : pick(r, REQUEST_LINES);
  const lines = std();
  let length: string | undefined = cl(b);
  const count = 1 + int(r, 3);
  for (let m = 0; m < count; m++) {
    switch (int(r, 10)) {
      case 0: // a header name over all bytes
        lines.splice(int(r, lines.length + 1), 0, `${bytes(r, 1 + int(r, 10), 0.7)}: ${bytes(r, int(r, 6), 1)}`);
        break;
      case 1: // a header value over all bytes
        lines.splice(int(r, lines.length + 1), 0, `X-${bytes(r, 1 + int(r, 4), 1)}:${bytes(r, int(r, 12), 0.6)}`);
        break;
      case 2: // a framing header, maybe a second one, maybe conflicting
        lines.splice(int(r, lines.length + 1), 0, `${pick(r, FRAMING_NAMES)}:${r() < 0.7 ? ' ' : ''}${pick(r, FRAMING_VALUES)}`);
        break;
      case 3: // whitespace around a framing value or before the colon
        lines.push(
          r() < 0.5
            ? `${pick(r, FRAMING_NAMES)}:${pick(r, WS)}${pick(r, FRAMING_VALUES)}${r() < 0.5 ? pick(r, WS) : ''}`
            : `${pick(r, FRAMING_NAMES)}${pick(r, WS)}: ${pick(r, FRAMING_VALUES)}`,
        );
        break;
      case 4: // the Content-Length itself changed, duplicated or removed
        length = pick(r, [
          undefined,
          `${cl(b)}\r\n${cl(b)}`,
          `${cl(b)}\r\nContent-Length: 0`,
          `Content-Length:${pick(r, WS)}${Buffer.byteLength(b)}${pick(r, WS)}`,
          `Content-Length: 0${Buffer.byteLength(b)}`,
        ]);
        break;
      case 5: // a line ending other than CRLF, or a folded line
        lines.splice(
          int(r, lines.length + 1),
          0,
          r() < 0.7 ? `X: a${pick(r, EOLS)}${pick(r, FRAMING_NAMES)}: ${pick(r, FRAMING_VALUES)}` : `${pick(r, [' ', '\t'])}folded`,
        );
        break;
      case 6: // Host removed or changed
        lines.splice(0, 1, ...pick(r, [[], ['Host:'], ['Host: a', 'Host: b'], ['host: x'], ['Host : x'], ['Host:\x00']]));
        break;
      case 7:
        requestLine = pick(r, REQUEST_LINES);
        break;
      case 8: // the body longer or shorter than announced
        b = r() < 0.5 ? b + bytes(r, 1 + int(r, 8), 0.5) : b.slice(0, int(r, b.length));
        break;
      default:
        mutateByte(r, lines);
    }
  }
  if (length !== undefined) lines.push(length);
  return Buffer.from(`${requestLine}\r\n${lines.join('\r\n')}\r\n\r\n${b}`, 'latin1');
}

const UPGRADE_LINES = [
  'GET /ws HTTP/1.1',
  'GET / HTTP/1.1',
  'GET /app/key?protocol=7&client=js&version=8.4.0&flash=false HTTP/1.1',
  'GET /ws?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.sig-_ HTTP/1.1',
  "GET /a/b;c=d,e!$&'()*+~%41:@? HTTP/1.1",
  'GET /ws HTTP/1.0',
  'GET  /ws HTTP/1.1',
  'GET /ws  HTTP/1.1',
  'GET ws HTTP/1.1',
  'GET * HTTP/1.1',
  'GET http://h/ws HTTP/1.1',
  'GET /w s HTTP/1.1',
  'GET /w#f HTTP/1.1',
  'GET /w\x7f HTTP/1.1',
  'GET /w\xe9 HTTP/1.1',
  'GET /w|"<>{}^`\\ HTTP/1.1',
  'get /ws HTTP/1.1',
  'GET /ws HTTP/1.1 ',
  'HEAD /ws HTTP/1.1',
];
const CONNECTION_VALUES = [
  'Upgrade',
  'upgrade',
  'UPGRADE',
  'keep-alive, Upgrade',
  'Upgrade, keep-alive',
  'keep-alive,Upgrade',
  'keep-alive,  Upgrade',
  'keep-alive,\tUpgrade',
  'keep-alive ,Upgrade',
  'Upgrade,',
  ',Upgrade',
  'Upgrade, close',
  'close, Upgrade',
  'Upgradex',
  'xUpgrade',
  'Up grade',
  'Upgrade\t',
  'Upgrade ',
  ' Upgrade',
  'Upgrade;q=1',
  'HTTP2-Settings, Upgrade',
  '',
];

function mutatedUpgrade(r: Rand): Buffer {
  let requestLine = r() < 0.7 ? 'GET /ws?token=abc HTTP/1.1' : pick(r, UPGRADE_LINES);
  const lines = [...HANDSHAKE];
  let after = r() < 0.3 ? '\x81\x85abcdefghi' : '';
  const count = int(r, 4);
  for (let m = 0; m < count; m++) {
    switch (int(r, 9)) {
      case 0:
        lines.splice(int(r, lines.length + 1), 0, `${bytes(r, 1 + int(r, 10), 0.7)}: ${bytes(r, int(r, 6), 1)}`);
        break;
      case 1:
        lines.splice(int(r, lines.length + 1), 0, `X-${bytes(r, 1 + int(r, 4), 1)}:${bytes(r, int(r, 12), 0.6)}`);
        break;
      case 2: // Connection changed, or a second one
        if (r() < 0.7) lines[1] = `Connection:${pick(r, [' ', '', '  ', '\t'])}${pick(r, CONNECTION_VALUES)}`;
        else lines.push(`Connection: ${pick(r, CONNECTION_VALUES)}`);
        break;
      case 3: // a framing header, or a duplicate of a handshake header
        lines.splice(int(r, lines.length + 1), 0, r() < 0.5 ? `${pick(r, FRAMING_NAMES)}: ${pick(r, FRAMING_VALUES)}` : pick(r, HANDSHAKE));
        break;
      case 4: // Host or Upgrade removed or changed
        if (r() < 0.5) lines.splice(0, 1, ...pick(r, [[], ['Host:'], ['Host: a', 'Host: b'], ['host: x'], ['Host : x']]));
        else lines[2] = pick(r, ['Upgrade:', 'Upgrade: ', 'Upgrade: h2c', 'upgrade: WebSocket', 'Upgrade : websocket', 'X-Upgrade: websocket']);
        break;
      case 5:
        lines.splice(int(r, lines.length + 1), 0, r() < 0.7 ? `X: a${pick(r, EOLS)}Upgrade: websocket` : `${pick(r, [' ', '\t'])}folded`);
        break;
      case 6:
        requestLine = pick(r, UPGRADE_LINES);
        break;
      case 7: // whitespace around values
        lines.push(`X-Pad:${pick(r, WS)}v${pick(r, WS)}`);
        break;
      default: {
        mutateByte(r, lines);
        after = r() < 0.5 ? after : `${after}GET / HTTP/1.1\r\n`;
      }
    }
  }
  return upgrade(lines, after, requestLine);
}

/** The chunks a socket might deliver `bytes` in: whole, cut at a few places, or one byte at a time. */
export function splits(r: Rand, bytes: Buffer, everyByte: boolean): Buffer[] {
  if (everyByte) return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  const cuts = new Set<number>();
  const n = int(r, 4);
  for (let k = 0; k < n; k++) cuts.add(1 + int(r, Math.max(1, bytes.length - 1)));
  const at = [...cuts].filter((c) => c < bytes.length).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}
