import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { encodeFrame } from '../../src/protocol/gatewayworker/index.ts';
import { gatewayClient, GwClient, PhpWorker, startGateway, type GwHerald } from '../helpers/gatewayworker.ts';

const SECRET = 's3cret';
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Clients = { h: GwHerald; a: GwClient & { id: string }; b: GwClient & { id: string }; c: GwClient & { id: string } };

/** a: uid 42, groups room1 and 2, session; b: uid bob, group room1; c: nothing. All set up by the worker. */
async function setup(): Promise<Clients> {
  const h = await startGateway({ secret: SECRET }, { store: { type: 'memory' } });
  cleanups.push(() => h.close());
  const worker = await PhpWorker.start(h.register, 'events-driver.php', SECRET);
  cleanups.push(() => worker.stop());
  const open = async () => {
    const c = await GwClient.open(h);
    cleanups.push(() => void c.ws.terminate());
    return c;
  };
  const a = await open();
  const b = await open();
  const c = await open();
  a.ws.send(
    JSON.stringify({
      calls: [
        ['bindUid', a.id, 42],
        ['joinGroup', a.id, 'room1'],
        ['joinGroup', a.id, 2],
        ['bindUid', b.id, 'bob'],
        ['joinGroup', b.id, 'room1'],
        ['setSession', a.id, { room_id: 1, name: 'Ann' }],
      ],
      quiet: true,
    }),
  );
  await a.call('isOnline', a.id);
  return { h, a, b, c };
}

/** The reply payloads (4-byte lengths removed, joined by `|`) a raw inner connection gets for `frames`. */
async function rawQuery(h: GwHerald, frames: Buffer[]): Promise<string> {
  const s = connect(h.inner, '127.0.0.1');
  cleanups.push(() => void s.destroy());
  await once(s, 'connect');
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  s.end(Buffer.concat(frames));
  await once(s, 'close');
  let all = Buffer.concat(chunks);
  const out: string[] = [];
  while (all.length >= 4) {
    const n = all.readUInt32BE(0);
    out.push(all.subarray(4, 4 + n).toString('latin1'));
    all = all.subarray(4 + n);
  }
  return out.join('|');
}

const auth = (secret: string) => encodeFrame({ cmd: 202, flag: 1, body: JSON.stringify({ secret_key: secret }) });

describe('gateway: GatewayClient calls from PHP (secret key set), replies read by real unserialize()', () => {
  it('answers every query with the shapes and return values of §7', async () => {
    const { h, a, b, c } = await setup();
    const r = await gatewayClient(
      h.register,
      [
        ['isOnline', a.id],
        ['isUidOnline', 42],
        ['isUidOnline', 'nobody'],
        ['getClientIdByUid', '42'],
        ['getAllClientIdCount'],
        ['getClientIdCountByGroup', 'room1'],
        ['getUidListByGroup', 'room1'],
        ['getAllClientIdList'],
        ['getAllGroupIdList'],
        ['getSession', a.id],
        ['getSession', c.id],
        ['getUidByClientId', a.id],
        ['getUidByClientId', c.id],
        ['batchGetClientIdByUid', [42, 'bob', 'x']],
        ['batchGetClientIdCountByGroup', ['room1', '2', 'none']],
        ['getClientSessionsByGroup', 'room1'],
        ['getAllClientSessions'],
        ['getAllGroupClientIdList'],
        ['getAllUidList'],
      ],
      SECRET,
    );
    const ser = r.map((x) => x.ser ?? x.error);
    const s = (v: string) => `s:${v.length}:"${v}";`;
    assert.deepEqual(ser, [
      'i:1;',
      'i:1;',
      'i:0;',
      `a:1:{i:0;${s(a.id)}}`,
      'i:3;',
      'i:2;',
      'a:2:{i:42;s:2:"42";s:3:"bob";s:3:"bob";}',
      `a:3:{${s(a.id)}${s(a.id)}${s(b.id)}${s(b.id)}${s(c.id)}${s(c.id)}}`,
      'a:2:{s:5:"room1";s:5:"room1";i:2;i:2;}',
      'a:2:{s:7:"room_id";i:1;s:4:"name";s:3:"Ann";}',
      'a:0:{}',
      's:2:"42";',
      'N;',
      `a:3:{i:42;a:1:{i:0;${s(a.id)}}s:3:"bob";a:1:{i:0;${s(b.id)}}s:1:"x";a:0:{}}`,
      'a:3:{s:5:"room1";i:2;i:2;i:1;s:4:"none";i:0;}',
      `a:2:{${s(a.id)}a:2:{s:7:"room_id";i:1;s:4:"name";s:3:"Ann";}${s(b.id)}a:0:{}}`,
      `a:3:{${s(a.id)}a:2:{s:7:"room_id";i:1;s:4:"name";s:3:"Ann";}${s(b.id)}a:0:{}${s(c.id)}a:0:{}}`,
      `a:2:{s:5:"room1";a:2:{${s(a.id)}${s(a.id)}${s(b.id)}${s(b.id)}}i:2;a:1:{${s(a.id)}${s(a.id)}}}`,
      'a:2:{i:42;s:2:"42";s:3:"bob";s:3:"bob";}',
    ]);
  });

  it('replies are exactly the original bytes for the examples of §6.5 (raw inner connection, several pairs on one connection)', async () => {
    const { h, a } = await setup();
    const n = parseInt(a.id.slice(12), 16);
    const t = (cmd: number, extData = '', connectionId = 0) => encodeFrame({ cmd, flag: 1, extData, connectionId });
    assert.equal(await rawQuery(h, [auth(SECRET), t(26)]), 'a:2:{i:0;s:5:"room1";i:1;i:2;}');
    assert.equal(
      await rawQuery(h, [auth(SECRET), t(25, '{"fields":["uid","groups"],"where":{"groups":["room1"]}}')]),
      'a:2:{i:1;a:2:{s:3:"uid";s:2:"42";s:6:"groups";a:2:{s:5:"room1";s:5:"room1";i:2;s:1:"2";}}i:2;a:2:{s:3:"uid";s:3:"bob";s:6:"groups";a:1:{s:5:"room1";s:5:"room1";}}}',
    );
    assert.equal(
      await rawQuery(h, [auth(SECRET), t(25, '{"fields":["uid","groups"],"where":{"connection_id":{"3":3}}}')]),
      'a:1:{i:3;a:2:{s:3:"uid";N;s:6:"groups";N;}}',
    );
    assert.equal(await rawQuery(h, [auth(SECRET), t(25, 'not json')]), 'a:0:{}');
    assert.equal(await rawQuery(h, [auth(SECRET), t(15, '42')]), `a:1:{i:0;i:${n};}`);
    assert.equal(await rawQuery(h, [auth(SECRET), t(10)]).then((p) => p.slice(0, 10)), 'a:3:{i:1;s');
    // A worker's query link: several request/reply pairs on one connection, each behind its own 202.
    assert.equal(await rawQuery(h, [auth(SECRET), t(11, '', n), auth(SECRET), t(24, 'room1'), t(203, '', 99)]), 'i:1;|i:2;|N;');
  });

  it('sendToUid / sendToGroup / bindUid from the web app reach the clients; a wrong secret is refused as the original refuses it', async () => {
    const { h, a, b, c } = await setup();
    const r = await gatewayClient(
      h.register,
      [
        ['sendToUid', 42, 'from web'],
        ['bindUid', c.id, 'carl'],
        ['sendToGroup', 'room1', 'to room1', [b.id]],
      ],
      SECRET,
    );
    assert.deepEqual(
      r.map((x) => x.ser),
      ['N;', 'N;', 'N;'],
    );
    await a.messages.next((m) => m === 'from web');
    await a.messages.next((m) => m === 'to room1');
    assert.deepEqual((await gatewayClient(h.register, [['getClientIdByUid', 'carl']], SECRET))[0]!.json, [c.id]);
    assert.ok(!b.messages.items.includes('to room1'));

    const wrong = await gatewayClient(h.register, [['isOnline', a.id]], 'wrong');
    assert.match(wrong[0]!.error ?? '', /connection close|reply/, 'the inner port closes on a wrong 202');
    const lookup = await gatewayClient(h.register, [['getAllClientIdCount']], 'wrong');
    assert.match(lookup[0]!.error ?? '', /getAllGatewayAddressesFromRegister fail/, 'the Register closes on a wrong secret');
    // A fire-and-forget send behind a wrong 202 is lost; a command before any 202 closes the connection too.
    const s = connect(h.inner, '127.0.0.1');
    cleanups.push(() => void s.destroy());
    await once(s, 'connect');
    s.write(Buffer.concat([encodeFrame({ cmd: 5, flag: 1, connectionId: parseInt(a.id.slice(12), 16), body: 'lost' })]));
    await once(s, 'close');
    await a.call('isOnline', a.id);
    assert.ok(!a.messages.items.includes('lost'));
  });
});
