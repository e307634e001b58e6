import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FastHead, MAX_FAST_HEAD, type FastRequest, type UpgradeHead } from '../../src/api/http/fast-head.ts';
import { FastReader } from '../../src/api/http/fast-reader.ts';

const parseFastHead = (buf: Buffer, start: number, maxBody: number): FastRequest | UpgradeHead | 'partial' | 'other' =>
  new FastHead().scan(buf, start, buf.length, maxBody);

const head = (lines: string[], body = ''): Buffer => Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
const publish = (...headers: string[]): Buffer => head(['POST /api/publish HTTP/1.1', 'Host: x', ...headers], '{}');

test('recognises publish and batch requests with a Content-Length body', () => {
  const r = parseFastHead(publish('Authorization: Bearer k', 'content-length: 2'), 0, 1000);
  assert.ok(typeof r === 'object' && r.op !== 'upgrade');
  assert.equal(r.op, 'publish');
  assert.equal(r.authorization, 'Bearer k');
  assert.equal(r.bodyLength, 2);
  assert.equal(r.close, false);
  const b = parseFastHead(head(['POST /api/publish/batch HTTP/1.1', 'Host: x', 'Content-Length: 0', 'Connection: close']), 0, 1000);
  assert.ok(typeof b === 'object' && b.op !== 'upgrade');
  assert.equal(b.op, 'publishBatch');
  assert.equal(b.close, true);
});

test('parses a request that starts in the middle of the buffer', () => {
  const first = publish('Content-Length: 2');
  const both = Buffer.concat([first, publish('Content-Length: 2', 'Authorization: Bearer second')]);
  const r = parseFastHead(both, first.length, 1000);
  assert.ok(typeof r === 'object' && r.op !== 'upgrade');
  assert.equal(r.authorization, 'Bearer second');
  assert.equal(first.length + r.headLength, both.length - 2);
});

test('an incomplete head is partial while it could still be a publish', () => {
  const full = publish('Content-Length: 2');
  for (const n of [1, 5, 20, 40]) assert.equal(parseFastHead(full.subarray(0, n), 0, 1000), 'partial', `first ${n} bytes`);
  assert.equal(parseFastHead(Buffer.from('POST /api/publish HTTP/1.1\r\nX: ' + 'a'.repeat(MAX_FAST_HEAD)), 0, 1000), 'other');
});

test('everything else goes to Node', () => {
  const other = [
    Buffer.from('GET / HTTP/1.0\r\n'),
    Buffer.from('GET /a b HTTP/1.1\r\n'),
    Buffer.from('GE\r'),
    head(['POST /api/publish?x=1 HTTP/1.1', 'Content-Length: 2']),
    head(['POST /api/publishx HTTP/1.1', 'Content-Length: 2']),
    head(['POST /api/publish HTTP/1.0', 'Content-Length: 2']),
    head(['POST /api/users/a/subscribe HTTP/1.1', 'Content-Length: 2']),
    publish(),
    publish('Content-Length: 2', 'Content-Length: 2'),
    publish('Content-Length: -1'),
    publish('Content-Length: 2', 'Transfer-Encoding: chunked'),
    publish('Content-Length: 2', 'Expect: 100-continue'),
    publish('Content-Length: 2', 'Connection: Upgrade', 'Upgrade: websocket'),
    publish('Content-Length: 2', ' folded'),
    publish('Content-Length : 2'),
    publish('Content-Length: 2000'),
  ];
  for (const b of other) assert.equal(parseFastHead(b, 0, 1000), 'other', JSON.stringify(b.toString('latin1')));
});

test('a head that arrives a byte at a time is recognised, scanning each byte once', () => {
  const full = publish('Content-Length: 2', 'Authorization: Bearer k');
  const h = new FastHead();
  for (let n = 1; n < full.length - 2; n++) assert.equal(h.scan(full, 0, n, 1000), 'partial', `first ${n} bytes`);
  const r = h.scan(full, 0, full.length, 1000);
  assert.ok(typeof r === 'object' && r.op !== 'upgrade');
  assert.equal(r.authorization, 'Bearer k');
  assert.equal(r.headLength, full.length - 2);
});

test('a byte outside the strict subset goes to Node as soon as it arrives, not at the end of the line', () => {
  for (const prefix of [
    'POST /api/publish HTTP/1.1\r\nHo st',
    'POST /api/publish HTTP/1.1\r\nX: a\x00',
    'POST /api/publish HTTP/1.1\r\nX: a\n',
    'POST /api/publish HTTP/1.1\r\nContent-Length: 4\x0b',
    'POST /api/publish HTTP/1.1\r\nTransfer-Encoding:',
  ]) {
    assert.equal(parseFastHead(Buffer.from(prefix, 'latin1'), 0, 1000), 'other', JSON.stringify(prefix));
  }
});

test('the issue-16 cases go to Node', () => {
  const cases = [
    head(['POST /api/publish HTTP/1.1', 'Content-Length: 2'], '{}'),
    publish('Content-Length: 2', 'X Y: 1'),
    publish('Content-Length: 2', 'X@Y: 1'),
    publish('Content-Length: 2', 'X: a\rb'),
    publish('Content-Length: 2', 'X: a\x7fb'),
    publish('Content-Length: 2\x0b'),
    Buffer.from('POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: \xa02\r\n\r\n{}', 'latin1'),
    publish('Transfer-Encoding\x7f: chunked', 'Content-Length: 2'),
    publish('X: a\nTransfer-Encoding: chunked', 'Content-Length: 2'),
    publish('Connection: xclose', 'Content-Length: 2'),
    publish('Connection: close\t', 'Content-Length: 2'),
    publish('Proxy-Connection: close', 'Content-Length: 2'),
    publish('Host: y', 'Content-Length: 2'),
  ];
  for (const b of cases) assert.equal(parseFastHead(b, 0, 1000), 'other', JSON.stringify(b.toString('latin1')));
});

test('a 1 MB body in 500-byte pieces is copied about once, not once per piece', () => {
  const body = Buffer.alloc(1024 * 1024, 0x61);
  const bytes = Buffer.concat([publish(`Content-Length: ${body.length}`).subarray(0, -2), body]);
  const reader = new FastReader(2 * 1024 * 1024);
  let got = 0;
  for (let i = 0; i < bytes.length; i += 500) {
    assert.equal(
      reader.push(bytes.subarray(i, i + 500), (_h, _b, s, e) => (got += e - s)),
      'more',
    );
  }
  assert.equal(got, body.length);
  // Re-joining the buffer on every piece (as before) copies about bytes^2 / 1000 = 1.1 GB here.
  assert.ok(reader.copied <= 2 * bytes.length, `${reader.copied} bytes copied for ${bytes.length} received`);
});

test('pipelined requests split anywhere are read the same', () => {
  const one = publish('Content-Length: 2');
  const bytes = Buffer.concat([one, one, one]);
  for (let cut = 1; cut < bytes.length; cut++) {
    const reader = new FastReader(1000);
    let n = 0;
    reader.push(bytes.subarray(0, cut), () => n++);
    reader.push(bytes.subarray(cut), () => n++);
    assert.equal(n, 3, `cut at ${cut}`);
    assert.equal(reader.phase, 'idle');
  }
});

const handshake = (...lines: string[]): Buffer =>
  head(['GET /ws?token=a.b-c_d%2F HTTP/1.1', 'Host: herald:8080', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', ...lines]);

test('recognises a WebSocket handshake: the target, the headers as Node reads them, and where the head ends', () => {
  const bytes = Buffer.concat([handshake('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Cookie:  a=1; b=2 '), Buffer.from([0x81, 0x80])]);
  const r = parseFastHead(bytes, 0, 1000);
  assert.ok(typeof r === 'object' && r.op === 'upgrade', JSON.stringify(r));
  assert.equal(r.url, '/ws?token=a.b-c_d%2F');
  assert.equal(r.headers['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
  assert.equal(r.headers.cookie, 'a=1; b=2');
  assert.equal(r.headers.host, 'herald:8080');
  assert.deepEqual(r.rawHeaders.slice(0, 4), ['Host', 'herald:8080', 'Connection', 'Upgrade']);
  assert.equal(r.headLength, bytes.length - 2);
  assert.ok(typeof parseFastHead(handshake('Connection: keep-alive, Upgrade'), 0, 1000) === 'string', 'Connection twice');
  const list = head(['GET / HTTP/1.1', 'Host: h', 'Connection: keep-alive, Upgrade', 'Upgrade: websocket']);
  assert.equal((parseFastHead(list, 0, 1000) as UpgradeHead).op, 'upgrade');
});

test('leaves to Node every handshake outside the subset', () => {
  const other = [
    handshake('Host: again'),
    handshake('Content-Length: 0'),
    handshake('Transfer-Encoding: chunked'),
    handshake('Expect: 100-continue'),
    head(['GET /ws HTTP/1.1', 'Connection: Upgrade', 'Upgrade: websocket']),
    head(['GET /ws HTTP/1.1', 'Host: h', 'Upgrade: websocket']),
    head(['GET /ws HTTP/1.1', 'Host: h', 'Connection: Upgrade', 'Upgrade:']),
    head(['GET /ws HTTP/1.1', 'Host: h', 'Connection: Upgrade\t', 'Upgrade: websocket']),
    head(['GET /ws HTTP/1.1', 'Host: h', 'Connection: Upgradex', 'Upgrade: websocket']),
    head(['GET /ws HTTP/1.1', 'Host: h', 'Connection: close', 'Upgrade: websocket']),
    head(['GET /w"s HTTP/1.1', 'Host: h', 'Connection: Upgrade', 'Upgrade: websocket']),
    head(['GET http://h/ws HTTP/1.1', 'Host: h', 'Connection: Upgrade', 'Upgrade: websocket']),
    head(['GET /ws HTTP/1.0', 'Host: h', 'Connection: Upgrade', 'Upgrade: websocket']),
    head(['GET /ws HTTP/1.1', 'Host: h', 'Connection: Upgrade', 'Upgrade: websocket', 'X: a', ' folded']),
  ];
  for (const b of other) assert.equal(parseFastHead(b, 0, 1000), 'other', JSON.stringify(b.toString('latin1')));
});
