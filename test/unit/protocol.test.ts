import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ws from 'ws';
import { compileChannelPatterns, isValidChannel } from '../../src/domain/streams.ts';
import { isReconnectCode } from '../../src/protocol/codes.ts';
import { decodeClientFrame, encodeMessage } from '../../src/protocol/frames.ts';
import { frameText } from '../../src/protocol/wsframe.ts';

describe('client frame decoding', () => {
  it('decodes every frame type', () => {
    assert.deepEqual(decodeClientFrame('{"type":"subscribe","channel":"a","id":3}'), { ok: true, frame: { type: 'subscribe', channel: 'a', id: 3 } });
    assert.deepEqual(decodeClientFrame('{"type":"send","id":1,"data":null}'), { ok: true, frame: { type: 'send', id: 1, data: null } });
    assert.deepEqual(decodeClientFrame('{"type":"auth","token":"t"}'), { ok: true, frame: { type: 'auth', token: 't' } });
    assert.deepEqual(decodeClientFrame('{"type":"pong"}'), { ok: true, frame: { type: 'pong' } });
  });

  it('reports errors as data with codes, never throws', () => {
    const code = (t: string) => {
      const r = decodeClientFrame(t);
      return r.ok ? 'ok' : r.error.code;
    };
    assert.equal(code('{'), 'bad_json');
    assert.equal(code('"x"'), 'bad_request');
    assert.equal(code('null'), 'bad_request');
    assert.equal(code('{"type":"send","data":1}'), 'bad_request');
    assert.equal(code('{"type":"send","id":-1,"data":1}'), 'bad_request');
    assert.equal(code('{"type":"subscribe"}'), 'bad_request');
    assert.equal(code('{"type":"nope"}'), 'unknown_frame');
    assert.equal(code('{}'), 'unknown_frame');
  });
});

describe('message encoding', () => {
  it('embeds the serialized data verbatim and stays valid JSON', () => {
    const data = JSON.stringify({ a: [1, 'é', null], b: '"quoted"' });
    const text = encodeMessage('user:42', 7, 'ep', data, 'note');
    assert.deepEqual(JSON.parse(text), { type: 'message', stream: 'user:42', offset: 7, epoch: 'ep', event: 'note', data: JSON.parse(data) });
  });
});

describe('WebSocket text framing', () => {
  for (const size of [0, 125, 126, 65535, 65536, 200_000]) {
    it(`frames a ${size}-byte payload that ws parses back`, async () => {
      const payload = 'é'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2);
      // ws's own frame parser (exported at runtime, absent from @types/ws) is the judge of our framing.
      const { Receiver } = ws as unknown as { Receiver: new (o: object) => import('node:stream').Writable };
      const receiver = new Receiver({ isServer: false, maxPayload: 0 });
      const got = new Promise<string>((resolve) => receiver.on('message', (d: Buffer) => resolve(d.toString())));
      receiver.write(frameText(payload));
      assert.equal(await got, payload);
    });
  }
});

describe('names', () => {
  it('validates channel names', () => {
    assert.ok(isValidChannel('orders:42'));
    assert.ok(!isValidChannel(''));
    assert.ok(!isValidChannel('has space'));
    assert.ok(!isValidChannel('x'.repeat(201)));
  });

  it('matches token channel patterns', () => {
    const can = compileChannelPatterns(['news', 'room.*', 'a*z']);
    assert.ok(can('news'));
    assert.ok(can('room.1'));
    assert.ok(can('abcz'));
    assert.ok(!can('newsx'));
    assert.ok(!can('roomx1'));
    assert.ok(compileChannelPatterns(['*'])('anything'));
    assert.ok(!compileChannelPatterns([])('news'));
  });
});

describe('close codes', () => {
  it('splits reconnect and final ranges', () => {
    assert.ok(isReconnectCode(4000));
    assert.ok(isReconnectCode(4499));
    assert.ok(!isReconnectCode(4500));
    assert.ok(!isReconnectCode(4999));
    assert.ok(!isReconnectCode(1000));
    assert.ok(isReconnectCode(1006));
  });
});
