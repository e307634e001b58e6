import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import WebSocket from 'ws';
import { encodeFrame } from '../../src/protocol/gatewayworker/index.ts';
import { Feed, gatewayClient, GwClient, PhpWorker, startGateway, type GatewayInput, type GwHerald } from '../helpers/gatewayworker.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(gateway: GatewayInput = {}): Promise<{ h: GwHerald; worker: PhpWorker }> {
  const h = await startGateway(gateway, { store: { type: 'memory' } });
  cleanups.push(() => h.close());
  const worker = await PhpWorker.start(h.register);
  cleanups.push(() => worker.stop());
  return { h, worker };
}

async function client(h: GwHerald): Promise<GwClient & { id: string }> {
  const c = await GwClient.open(h);
  cleanups.push(() => void c.ws.terminate());
  return c;
}

async function inner(h: GwHerald): Promise<Socket> {
  const s = connect(h.inner, '127.0.0.1');
  cleanups.push(() => void s.destroy());
  await once(s, 'connect');
  return s;
}

const num = (cid: string): number => parseInt(cid.slice(12), 16);

describe('gateway: heartbeat, text clients, bad input, flooding, shutdown', () => {
  it('pingData goes to an idle client as an ordinary text frame; with pingNotResponseLimit a silent client is dropped and the worker told', async () => {
    const { h, worker } = await setup({ pingInterval: 0.1, pingData: '{"type":"ping"}', pingNotResponseLimit: 1 });
    const c = await client(h);
    assert.equal(await c.messages.next((m) => m === '{"type":"ping"}', 'a ping'), '{"type":"ping"}');
    assert.equal((await c.closed).code, 1006, 'dropped without a close frame');
    await worker.lines.next((l) => l.startsWith(`close ${c.id}`), 'ON_CLOSE');
  });

  it('a text:// listener: one line per message (CR/LF dropped), an LF after every send', async () => {
    const h = await startGateway({ listen: 'text://127.0.0.1:0' }, { store: { type: 'memory' } });
    cleanups.push(() => h.close());
    const worker = await PhpWorker.start(h.register);
    cleanups.push(() => worker.stop());
    const s = connect(h.client, '127.0.0.1');
    cleanups.push(() => void s.destroy());
    const lines = new Feed<string>();
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    const hello = JSON.parse(await lines.next((l) => l.includes('"event":"connect"'))) as { client_id: string };
    assert.match(hello.client_id, /^7f000001/);
    s.write('hello\r\nsecond\n');
    await lines.next((l) => l === 'echo:second');
    assert.deepEqual(lines.items.slice(1), ['echo:hello', 'echo:second'], 'no ON_WEBSOCKET_CONNECT on text');
    s.end();
    await worker.lines.next((l) => l.startsWith(`close ${hello.client_id}`));
  });

  it('bad frames close only their inner connection: pack_len < 28, a 2 GB length, an ext_len beyond the frame, a truncated frame', async () => {
    const { h } = await setup();
    const c = await client(h);
    const bad = [
      Buffer.concat([Buffer.from('0000000a', 'hex'), Buffer.alloc(24)]),
      Buffer.concat([Buffer.from('7fffffff', 'hex'), Buffer.alloc(24)]),
      (() => {
        const f = encodeFrame({ cmd: 5, flag: 1, connectionId: num(c.id), body: 'x' });
        f.writeUInt32BE(1000, 24);
        return f;
      })(),
    ];
    for (const b of bad) {
      const s = await inner(h);
      s.write(Buffer.concat([encodeFrame({ cmd: 5, flag: 1, connectionId: num(c.id), body: 'before' }), b]));
      await once(s, 'close');
    }
    const t = await inner(h);
    t.end(encodeFrame({ cmd: 5, flag: 1, connectionId: num(c.id), body: 'truncated' }).subarray(0, 30));
    await once(t, 'close');
    await c.call('isOnline', c.id);
    assert.equal(c.messages.items.filter((m) => m === 'before').length, 3, 'frames before a bad one are applied');
    assert.ok(!c.messages.items.includes('truncated'));
    assert.deepEqual((await c.call('getAllClientIdCount')).result, 1, 'still serving');
  });

  it('sessions that are malformed or hold objects are never instantiated: updateSession is refused and the stored bytes kept', async () => {
    const { h } = await setup();
    const c = await client(h);
    const s = await inner(h);
    const object = 'a:1:{s:1:"o";O:8:"stdClass":0:{}}';
    s.end(
      Buffer.concat([
        encodeFrame({ cmd: 204, flag: 1, connectionId: num(c.id), extData: object }),
        encodeFrame({ cmd: 9, flag: 1, connectionId: num(c.id), extData: 'a:1:{s:1:"k";s:1:"v";}' }),
        encodeFrame({ cmd: 7, flag: 0, connectionId: 999, body: 'O:8:"stdClass":0:{}' }),
      ]),
    );
    await once(s, 'close');
    const [r] = await gatewayClient(h.register, [['getSession', c.id]]);
    assert.match(r!.error ?? r!.ser ?? '', /O:8:"stdClass"|__PHP_Incomplete_Class|stdClass/, 'the stored session comes back verbatim');
    const raw = await inner(h);
    const chunks: Buffer[] = [];
    raw.on('data', (d: Buffer) => chunks.push(d));
    raw.end(
      Buffer.concat([
        encodeFrame({ cmd: 9, flag: 1, connectionId: num(c.id), extData: 'a:1:{s:1:"k";' }),
        encodeFrame({ cmd: 203, flag: 1, connectionId: num(c.id) }),
      ]),
    );
    await once(raw, 'close');
    assert.equal(Buffer.concat(chunks).subarray(4).toString(), object);
  });

  it('a client that sends faster than its worker reads is closed (1008) past the bound; everyone else keeps being served', async () => {
    const h = await startGateway({ maxPendingBytesPerClient: 64 * 1024 }, { store: { type: 'memory' } });
    cleanups.push(() => h.close());
    // A worker that links and never reads: the first link, so the first client is routed to it.
    const stuck = await inner(h);
    stuck.write(encodeFrame({ cmd: 200, flag: 1, body: '{"worker_key":"Stuck:1","secret_key":""}' }));
    stuck.write(encodeFrame({ cmd: 11, flag: 1 }));
    await once(stuck, 'data');
    stuck.pause();
    const worker = await PhpWorker.start(h.register);
    cleanups.push(() => worker.stop());
    const flooder = new GwClient(new WebSocket(`ws://127.0.0.1:${h.client}/`));
    cleanups.push(() => void flooder.ws.terminate());
    await once(flooder.ws, 'open');
    const ok = await client(h);
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    const sendMore = (): void => {
      if (flooder.ws.readyState === WebSocket.OPEN) flooder.ws.send(chunk, sendMore);
    };
    sendMore();
    const closed = await flooder.closed;
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, 'backend not reading');
    ok.ws.send('still here');
    await ok.messages.next((m) => m === 'echo:still here');
  });

  it('shutdown: clients get 1001 and the worker gets their ON_CLOSE before the inner port closes', async () => {
    const h = await startGateway({}, { store: { type: 'memory' } });
    const worker = await PhpWorker.start(h.register);
    cleanups.push(() => worker.stop());
    const c = await client(h);
    await h.close();
    assert.equal((await c.closed).code, 1001);
    await worker.lines.next((l) => l.startsWith(`close ${c.id}`));
  });
});
