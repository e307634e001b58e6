import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_FAST_HEAD, parseFastHead } from '../../src/api/http/fast-head.ts';

const head = (lines: string[], body = ''): Buffer => Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
const publish = (...headers: string[]): Buffer => head(['POST /api/publish HTTP/1.1', 'Host: x', ...headers], '{}');

test('recognises publish and batch requests with a Content-Length body', () => {
  const r = parseFastHead(publish('Authorization: Bearer k', 'content-length: 2'), 0, 1000);
  assert.ok(typeof r === 'object');
  assert.equal(r.op, 'publish');
  assert.equal(r.authorization, 'Bearer k');
  assert.equal(r.bodyLength, 2);
  assert.equal(r.close, false);
  const b = parseFastHead(head(['POST /api/publish/batch HTTP/1.1', 'Content-Length: 0', 'Connection: close']), 0, 1000);
  assert.ok(typeof b === 'object');
  assert.equal(b.op, 'publishBatch');
  assert.equal(b.close, true);
});

test('parses a request that starts in the middle of the buffer', () => {
  const first = publish('Content-Length: 2');
  const both = Buffer.concat([first, publish('Content-Length: 2', 'Authorization: Bearer second')]);
  const r = parseFastHead(both, first.length, 1000);
  assert.ok(typeof r === 'object');
  assert.equal(r.authorization, 'Bearer second');
  assert.equal(r.bodyStart, both.length - 2);
});

test('an incomplete head is partial while it could still be a publish', () => {
  const full = publish('Content-Length: 2');
  for (const n of [1, 5, 20, 40]) assert.equal(parseFastHead(full.subarray(0, n), 0, 1000), 'partial', `first ${n} bytes`);
  assert.equal(parseFastHead(Buffer.from('POST /api/publish HTTP/1.1\r\nX: ' + 'a'.repeat(MAX_FAST_HEAD)), 0, 1000), 'other');
});

test('everything else goes to Node', () => {
  const other = [
    Buffer.from('GET / HTTP/1.1\r\n'),
    Buffer.from('G'),
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
