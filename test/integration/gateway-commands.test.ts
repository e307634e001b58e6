import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import WebSocket from 'ws';
import { GwClient, PhpWorker, startGateway, type GwHerald } from '../helpers/gatewayworker.ts';
import { TestClient } from '../helpers/ws-client.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(events = 'events-driver.php'): Promise<{ h: GwHerald; worker: PhpWorker }> {
  const h = await startGateway({}, { store: { type: 'memory' } });
  cleanups.push(() => h.close());
  const worker = await PhpWorker.start(h.register, events);
  cleanups.push(() => worker.stop());
  return { h, worker };
}

async function client(h: GwHerald): Promise<GwClient & { id: string }> {
  const c = await GwClient.open(h);
  cleanups.push(() => void c.ws.terminate());
  return c;
}

/** Sends several driver calls in one client message: the worker runs them in order, in one onMessage. */
function calls(c: GwClient, list: unknown[][]): void {
  c.ws.send(JSON.stringify({ calls: list, quiet: true }));
}

/** Waits until `c` has received `text`; returns its index in c's messages. */
async function got(c: GwClient, text: string): Promise<number> {
  await c.messages.next((m) => m === text, JSON.stringify(text));
  return c.messages.items.indexOf(text);
}

describe('gateway: commands from a PHP BusinessWorker', () => {
  it('bindUid / sendToUid reach every connection of a uid (1 and "1" are one uid, "01" is not); unbindUid stops it', async () => {
    const { h } = await setup();
    const a = await client(h);
    const b = await client(h);
    const c = await client(h);
    calls(a, [
      ['bindUid', a.id, 1],
      ['bindUid', b.id, '1'],
      ['bindUid', c.id, '01'],
      ['sendToUid', 1, 'to uid 1'],
      ['sendToUid', ['01'], 'to uid 01'],
    ]);
    await got(a, 'to uid 1');
    await got(b, 'to uid 1');
    await got(c, 'to uid 01');
    assert.ok(!c.messages.items.includes('to uid 1'));
    calls(a, [
      ['unbindUid', a.id, 1],
      ['sendToUid', '1', 'after unbind'],
      ['sendToClient', a.id, 'marker'],
    ]);
    await got(b, 'after unbind');
    await got(a, 'marker');
    assert.ok(!a.messages.items.includes('after unbind'));
  });

  it('joinGroup / sendToGroup (with and without exclude) / leaveGroup / ungroup; a native client in channel room1 gets group room1', async () => {
    const { h } = await setup();
    const a = await client(h);
    const b = await client(h);
    const native = await TestClient.welcome(h.wsUrl, await h.token('n1', ['room1']));
    cleanups.push(() => native.close());
    native.send({ type: 'subscribe', channel: 'room1', id: 1 });
    await native.next((f) => f.type === 'subscribed');
    calls(a, [
      ['joinGroup', a.id, 'room1'],
      ['joinGroup', b.id, 'room1'],
      ['joinGroup', b.id, 2],
      ['sendToGroup', 'room1', 'hello room1'],
      ['sendToGroup', ['room1', '2'], 'twice for b'],
      ['sendToGroup', 'room1', 'not for a', [a.id]],
    ]);
    await got(a, 'hello room1');
    await got(b, 'hello room1');
    assert.equal((await native.next((f) => f.type === 'message')).data, 'hello room1');
    await got(b, 'not for a');
    assert.equal(b.messages.items.filter((m) => m === 'twice for b').length, 2, 'no de-duplication across groups');
    await got(a, 'twice for b');
    assert.ok(!a.messages.items.includes('not for a'));
    calls(a, [
      ['leaveGroup', b.id, 'room1'],
      ['sendToGroup', 'room1', 'after leave'],
      ['ungroup', 'room1'],
      ['sendToGroup', 'room1', 'after ungroup'],
      ['sendToGroup', 2, 'group 2'],
    ]);
    await got(a, 'after leave');
    await got(b, 'group 2');
    assert.ok(!b.messages.items.includes('after leave'));
    assert.ok(!a.messages.items.includes('after ungroup'));
    assert.equal((await native.next((f) => f.type === 'message' && f.data === 'after ungroup')).data, 'after ungroup', 'ungroup removes gateway members only');
  });

  it('a group send queued before a join from the same worker is applied first (§9.5), and the order of sends is kept', async () => {
    const { h } = await setup();
    const a = await client(h);
    const b = await client(h);
    calls(a, [['joinGroup', a.id, 'r']]);
    calls(b, [
      ['sendToGroup', 'r', 'before b joined'],
      ['joinGroup', b.id, 'r'],
      ['sendToCurrentClient', 'direct 1'],
      ['sendToGroup', 'r', 'after b joined'],
      ['sendToCurrentClient', 'direct 2'],
    ]);
    await got(a, 'before b joined');
    const i2 = await got(b, 'direct 2');
    assert.deepEqual(b.messages.items.slice(i2 - 2, i2 + 1), ['direct 1', 'after b joined', 'direct 2']);
    assert.ok(!b.messages.items.includes('before b joined'));
  });

  it('sendToAll: to everyone (native clients too), to a list of client_ids, and with an exclude list', async () => {
    const { h } = await setup();
    const a = await client(h);
    const b = await client(h);
    const native = await TestClient.welcome(h.wsUrl, await h.token('n2'));
    cleanups.push(() => native.close());
    calls(a, [
      ['sendToAll', 'everyone'],
      ['sendToAll', 'only b', [b.id]],
      ['sendToAll', 'all but a', null, [a.id]],
      ['sendToClient', a.id, 'marker'],
    ]);
    await got(b, 'all but a');
    await got(a, 'marker');
    assert.ok(a.messages.items.includes('everyone') && b.messages.items.includes('everyone'));
    assert.ok(b.messages.items.includes('only b') && !a.messages.items.includes('only b'));
    assert.ok(!a.messages.items.includes('all but a'));
    assert.equal((await native.next((f) => f.type === 'message')).data, 'everyone');
  });

  it('sessions: setSession replaces, updateSession merges as array_replace_recursive, getSession reads them; the worker sees them in $_SESSION', async () => {
    const { h } = await setup();
    const a = await client(h);
    const b = await client(h);
    await a.call('setSession', b.id, { room_id: '1', client_name: 'Ann', tags: [1, 2, 3] });
    await a.call('updateSession', b.id, { client_name: 'Bea', tags: [9], prefs: { lang: 'en' } });
    const r = await a.call('getSession', b.id);
    assert.equal(
      r.serialized,
      'a:4:{s:7:"room_id";s:1:"1";s:11:"client_name";s:3:"Bea";s:4:"tags";a:3:{i:0;i:9;i:1;i:2;i:2;i:3;}s:5:"prefs";a:1:{s:4:"lang";s:2:"en";}}',
    );
    // b's next event carries the new session bytes (the worker's crc32 check refetches it, as the original's does).
    b.ws.send(JSON.stringify({ show: 'session' }));
    assert.deepEqual(JSON.parse(await b.messages.next((m) => m.startsWith('{"room_id"'))), {
      room_id: '1',
      client_name: 'Bea',
      tags: [9, 2, 3],
      prefs: { lang: 'en' },
    });
    assert.equal((await a.call('getSession', `${b.id.slice(0, 12)}0000ffff`)).serialized, 'N;');
    const fresh = await client(h);
    assert.equal((await a.call('getSession', fresh.id)).serialized, 'a:0:{}');
  });

  it("the worker's own session changes go back as SET_SESSION and are read by the HTTP connection API", async () => {
    const { h } = await setup();
    const a = await client(h);
    a.ws.send(JSON.stringify({ set: { k: 'v' }, show: 'session' }));
    await a.messages.next((m) => m === '{"k":"v"}');
    const r = await a.call('getSession', a.id);
    assert.equal(r.serialized, 'a:1:{s:1:"k";s:1:"v";}');
  });

  it('closeClient sends the message, then ends TCP without a close frame (1006); destoryClient drops at once; the worker gets ON_CLOSE', async () => {
    const { h, worker } = await setup();
    const a = await client(h);
    const b = await client(h);
    const c = await client(h);
    calls(a, [['closeClient', b.id, 'bye']]);
    assert.equal((await b.closed).code, 1006);
    assert.ok(b.messages.items.includes('bye'));
    await worker.lines.next((l) => l.startsWith(`close ${b.id}`));
    calls(a, [['destoryClient', c.id]]);
    assert.equal((await c.closed).code, 1006);
    await worker.lines.next((l) => l.startsWith(`close ${c.id}`));
    assert.equal((await a.call('isOnline', b.id)).result, 0);
  });

  it('the workerman-chat trace of §9.6, end to end', async () => {
    const { h } = await setup('events-chat.php');
    const open = async (): Promise<GwClient> => {
      const c = new GwClient(new WebSocket(`ws://127.0.0.1:${h.client}/`));
      cleanups.push(() => void c.ws.terminate());
      await once(c.ws, 'open');
      return c;
    };
    const ann = await open();
    ann.ws.send('{"type":"login","client_name":"Ann","room_id":1}');
    const annLogin = JSON.parse(await ann.messages.next()) as { client_id: string; client_list: Record<string, string> };
    assert.deepEqual(Object.values(annLogin.client_list), ['Ann']);
    const bob = await open();
    bob.ws.send('{"type":"login","client_name":"Bob","room_id":1}');
    const bobLogin = JSON.parse(await bob.messages.next()) as { client_id: string; client_list: Record<string, string> };
    assert.deepEqual(bobLogin.client_list, { [annLogin.client_id]: 'Ann', [bobLogin.client_id]: 'Bob' }, 'the room list comes from the sessions');
    assert.equal(bob.messages.items.length, 1, 'Bob does not get his own login broadcast (sent before he joined)');
    assert.deepEqual(JSON.parse(await ann.messages.next((m) => m.includes('Bob'))), { type: 'login', client_id: bobLogin.client_id, client_name: 'Bob' });
    ann.ws.send('{"type":"pong"}');
    ann.ws.send('{"type":"say","content":"hi"}');
    const said = '{"type":"say","from":"Ann","content":"hi"}';
    await got(bob, said);
    await got(ann, said);
    await bob.close();
    assert.deepEqual(JSON.parse(await ann.messages.next((m) => m.includes('logout'))), {
      type: 'logout',
      from_client_id: bobLogin.client_id,
      from_client_name: 'Bob',
    });
  });

  it('a raw TCP inner connection sees no reply to commands and one reply per query, in order', async () => {
    const { h } = await setup();
    const a = await client(h);
    const s = connect(h.inner, '127.0.0.1');
    cleanups.push(() => void s.destroy());
    await once(s, 'connect');
    const { encodeFrame } = await import('../../src/protocol/gatewayworker/index.ts');
    const num = parseInt(a.id.slice(12), 16);
    const replies: Buffer[] = [];
    s.on('data', (d: Buffer) => replies.push(d));
    s.write(
      Buffer.concat([
        encodeFrame({ cmd: 20, connectionId: num, flag: 1, extData: 'g' }),
        encodeFrame({ cmd: 11, connectionId: num, flag: 1 }),
        encodeFrame({ cmd: 99, flag: 1 }),
        encodeFrame({ cmd: 24, flag: 1, extData: 'g' }),
      ]),
    );
    s.end();
    await once(s, 'close');
    assert.equal(Buffer.concat(replies).toString('latin1'), '\u0000\u0000\u0000\u0004i:1;\u0000\u0000\u0000\u0004i:1;');
  });
});
