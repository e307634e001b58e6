import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errLine, LineSplitter, okLine, parseCommand } from '../../src/api/line/parser.ts';

const b = (s: string) => Buffer.from(s, 'utf8');

/** Feeds every chunk and returns all lines, failing on overflow. */
function feed(splitter: LineSplitter, ...chunks: (string | Buffer)[]): string[] {
  const out: string[] = [];
  for (const c of chunks) {
    const r = splitter.push(typeof c === 'string' ? b(c) : c);
    assert.equal(r.overflow, false);
    out.push(...r.lines);
  }
  return out;
}

describe('LineSplitter', () => {
  it('returns a complete line from one chunk', () => {
    assert.deepEqual(new LineSplitter(100).push(b('hello\n')), { lines: ['hello'], overflow: false });
  });

  it('keeps a partial line until its newline arrives', () => {
    const s = new LineSplitter(100);
    assert.deepEqual(s.push(b('{"op":')), { lines: [], overflow: false });
    assert.deepEqual(s.push(b('"stats"')), { lines: [], overflow: false });
    assert.deepEqual(s.push(b('}\n')), { lines: ['{"op":"stats"}'], overflow: false });
  });

  it('splits several lines in one chunk, keeping the trailing partial', () => {
    const s = new LineSplitter(100);
    assert.deepEqual(s.push(b('a\nbb\nccc\ndd')).lines, ['a', 'bb', 'ccc']);
    assert.deepEqual(s.push(b('d\ne\n')).lines, ['ddd', 'e']);
  });

  it('handles a chunk split exactly at the newline', () => {
    const s = new LineSplitter(100);
    assert.deepEqual(feed(s, 'abc', '\n', 'def', '\n'), ['abc', 'def']);
  });

  it('feeds byte by byte', () => {
    const s = new LineSplitter(100);
    const out: string[] = [];
    for (const byte of b('one\ntwo\r\nthree\n')) out.push(...s.push(Buffer.from([byte])).lines);
    assert.deepEqual(out, ['one', 'two', 'three']);
  });

  it('drops the \\r of CRLF endings, also when \\r and \\n arrive in different chunks', () => {
    const s = new LineSplitter(100);
    assert.deepEqual(feed(s, 'a\r\nb\r\n'), ['a', 'b']);
    assert.deepEqual(feed(s, 'c\r', '\nd\r\n'), ['c', 'd']);
  });

  it('keeps a \\r that is not right before the newline', () => {
    const s = new LineSplitter(100);
    assert.deepEqual(feed(s, 'a\rb\n', '\rc\n', 'd\r\r\n'), ['a\rb', '\rc', 'd\r']);
  });

  it('returns empty lines as empty strings (the caller skips them)', () => {
    const s = new LineSplitter(100);
    assert.deepEqual(feed(s, '\n\n'), ['', '']);
    assert.deepEqual(feed(s, '\r\n'), ['']);
    assert.deepEqual(feed(s, 'x\n\ny\n'), ['x', '', 'y']);
  });

  it('decodes UTF-8 characters split across chunks', () => {
    const s = new LineSplitter(100);
    const bytes = b('é日😀\n');
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...s.push(bytes.subarray(i, i + 1)).lines);
    assert.deepEqual(out, ['é日😀']);
  });

  it('copies the partial line, so the caller may reuse its chunk buffer', () => {
    const s = new LineSplitter(100);
    const chunk = b('abc');
    s.push(chunk);
    chunk.fill(0x7a); // 'zzz'
    assert.deepEqual(s.push(b('def\n')).lines, ['abcdef']);
  });

  it('accepts a line of exactly maxLineBytes, in one chunk or across chunks', () => {
    assert.deepEqual(new LineSplitter(8).push(b('12345678\n')), { lines: ['12345678'], overflow: false });
    const s = new LineSplitter(8);
    assert.deepEqual(feed(s, '1234', '5678', '\n'), ['12345678']);
    assert.deepEqual(feed(s, '12345678', '\n'), ['12345678'], 'the splitter is reusable after a line at the limit');
  });

  it('overflows on a line one byte over the limit', () => {
    assert.equal(new LineSplitter(8).push(b('123456789\n')).overflow, true);
    assert.equal(new LineSplitter(8).push(b('123456789')).overflow, true, 'without a newline yet');
  });

  it('overflows when a line grows past the limit across chunks', () => {
    const s = new LineSplitter(8);
    assert.deepEqual(s.push(b('12345')), { lines: [], overflow: false });
    assert.deepEqual(s.push(b('6789')), { lines: [], overflow: true });

    const t = new LineSplitter(8);
    assert.deepEqual(t.push(b('12345678')), { lines: [], overflow: false });
    assert.deepEqual(t.push(b('9\n')), { lines: [], overflow: true }, 'the newline arriving late does not rescue it');
  });

  it('returns the lines completed before the overflow in the same chunk', () => {
    const s = new LineSplitter(8);
    assert.deepEqual(s.push(b('ok\nfine\n123456789012\nlost\n')), { lines: ['ok', 'fine'], overflow: true });
  });

  it('does not count the newline against the limit; many short lines never overflow', () => {
    const s = new LineSplitter(4);
    const r = s.push(b('abcd\n'.repeat(1000)));
    assert.equal(r.overflow, false);
    assert.equal(r.lines.length, 1000);
  });

  // The \r of a CRLF ending is part of the terminator, not of the line, yet it counts against the limit: a CRLF peer
  // gets one byte less than an LF peer.
  it('does not count the \\r of CRLF against the limit', () => {
    assert.deepEqual(new LineSplitter(8).push(b('12345678\r\n')), { lines: ['12345678'], overflow: false });
  });
});

describe('parseCommand', () => {
  it('parses op, key and the remaining fields as input', () => {
    assert.deepEqual(parseCommand('{"op":"publish","key":"k","to":{"user":"1"},"data":[1]}'), {
      ok: true,
      op: 'publish',
      key: 'k',
      input: { to: { user: '1' }, data: [1] },
    });
  });

  it('leaves key out when absent', () => {
    const c = parseCommand('{"op":"stats"}');
    assert.deepEqual(c, { ok: true, op: 'stats', input: {} });
    assert.equal('key' in c, false);
  });

  it('accepts surrounding whitespace', () => {
    assert.deepEqual(parseCommand('  {"op":"users", "limit": 5}  '), { ok: true, op: 'users', input: { limit: 5 } });
  });

  it('answers bad_json for text that is not JSON', () => {
    for (const line of ['nope', '{', '{"op":"stats"', "{'op':'stats'}", '']) {
      const c = parseCommand(line);
      assert.equal(c.ok, false);
      if (!c.ok) {
        assert.equal(c.code, 'bad_json', line);
        assert.ok(c.message.length > 0);
      }
    }
  });

  it('answers bad_request for JSON that is not an object', () => {
    for (const line of ['[1,2]', '[]', '"str"', '42', 'null', 'true']) {
      const c = parseCommand(line);
      assert.deepEqual(c.ok ? c : { ok: c.ok, code: c.code }, { ok: false, code: 'bad_request' }, line);
    }
  });

  it('answers bad_request for a missing or non-string op', () => {
    for (const line of ['{}', '{"op":5}', '{"op":null}', '{"op":["publish"]}', '{"Op":"stats"}']) {
      const c = parseCommand(line);
      assert.deepEqual(c.ok ? c : { ok: c.ok, code: c.code }, { ok: false, code: 'bad_request' }, line);
    }
  });

  it('answers bad_request for a non-string key', () => {
    for (const line of ['{"op":"auth","key":5}', '{"op":"auth","key":null}', '{"op":"auth","key":{"k":1}}']) {
      const c = parseCommand(line);
      assert.deepEqual(c.ok ? c : { ok: c.ok, code: c.code }, { ok: false, code: 'bad_request' }, line);
    }
  });

  it('does not let a __proto__ field change the input prototype', () => {
    const c = parseCommand('{"op":"stats","__proto__":{"polluted":true}}');
    assert.equal(c.ok, true);
    if (c.ok) assert.equal((c.input as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });
});

describe('okLine and errLine', () => {
  it('okLine is "OK <json>\\n"', () => {
    assert.equal(okLine({ a: 1, b: 'x' }), 'OK {"a":1,"b":"x"}\n');
    assert.equal(okLine([1, 2]), 'OK [1,2]\n');
    assert.equal(okLine('s'), 'OK "s"\n');
    assert.equal(okLine(0), 'OK 0\n');
  });

  it('okLine shows null for undefined and null', () => {
    assert.equal(okLine(undefined), 'OK null\n');
    assert.equal(okLine(null), 'OK null\n');
  });

  it('okLine stays one line whatever the data holds', () => {
    const line = okLine({ text: 'a\nb\r\nc\u2028d' });
    assert.equal(line.indexOf('\n'), line.length - 1);
    assert.equal(line.includes('\r'), false);
    assert.deepEqual(JSON.parse(line.slice(3)), { text: 'a\nb\r\nc\u2028d' });
  });

  it('errLine is "ERR <code> <message>\\n"', () => {
    assert.equal(errLine('bad_json', 'line is not valid JSON'), 'ERR bad_json line is not valid JSON\n');
  });

  it('errLine flattens newlines in the message to keep one line', () => {
    assert.equal(errLine('bad_request', 'a\nb\r\nc\rd\n\ne'), 'ERR bad_request a b c d e\n');
    const line = errLine('x', 'm\n');
    assert.equal(line.indexOf('\n'), line.length - 1);
  });
});
