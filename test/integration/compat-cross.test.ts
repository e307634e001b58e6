import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { php, RawWsClient, requirePhp, SioClient, startCompat, type CompatHerald } from '../helpers/compat.ts';
import { settle, TestClient } from '../helpers/ws-client.ts';

/** One uid logged in on Socket.IO (2.x and 4.x), the Workerman websocket and the native /ws, all at once. */
describe('compat: one hub behind every listener', () => {
  let h: CompatHerald;
  let sio2: SioClient;
  let sio4: SioClient;
  let raw: RawWsClient;
  let native: TestClient;
  before(async () => {
    requirePhp();
    h = await startCompat();
    sio2 = await SioClient.login(h, 2, 'u1');
    sio4 = await SioClient.login(h, 4, 'u1', { transports: ['websocket'] });
    raw = await RawWsClient.login(h, 'u1');
    native = await TestClient.welcome(h.wsUrl, await h.token('u1'));
  });
  after(async () => {
    sio2.close();
    sio4.close();
    await raw.close();
    native.close();
    await h.close();
  });

  it("counts the uid's connections on every transport in the presence API", async () => {
    const r = await h.api('GET', '/api/users/u1');
    assert.equal(r.body.online, true);
    assert.equal(r.body.connections, 4);
    assert.deepEqual(r.body.sessions.map((s: { transport: string }) => s.transport).sort(), ['native', 'socketio', 'socketio', 'websocket']);
    const stats = await h.api('GET', '/api/stats');
    assert.equal(stats.body.transports.socketio, 2);
    assert.equal(stats.body.transports.websocket, 1);
    assert.equal(stats.body.transports.native, 1);
  });

  it('delivers a 2121 push (PHP curl) to all of them', async () => {
    assert.equal(await php('http-push-curl.php', [`http://127.0.0.1:${h.ports.httpPush}/`, 'u1', 'from <2121>']), "'ok'");
    const escaped = 'from &lt;2121&gt;';
    assert.equal(await sio2.newMsg.next((m) => m === escaped), escaped);
    assert.equal(await sio4.newMsg.next((m) => m === escaped), escaped);
    assert.equal(await raw.messages.next((m) => m === escaped), escaped);
    const m = await native.next((f) => f.type === 'message' && f.data === escaped);
    assert.equal(m.event, 'new_msg');
  });

  it("delivers a 5678 push (the seeds' PHP backend) to all of them", async () => {
    assert.equal(await php('text-push.php', [String(h.ports.text), 'u1', '99%']), 'ok\n');
    const line = '{"uid":"u1","percent":"99%"}';
    assert.equal(await sio2.newMsg.next((m) => m === line), line);
    assert.equal(await sio4.newMsg.next((m) => m === line), line);
    assert.equal(await raw.messages.next((m) => m === line), line);
    const m = await native.next((f) => f.type === 'message' && f.data?.percent === '99%');
    assert.deepEqual(m.data, { uid: 'u1', percent: '99%' });
  });

  it('delivers a native API publish to all of them', async () => {
    const r = await h.api('POST', '/api/publish', { to: { user: 'u1' }, data: { order: 7, state: 'paid' }, event: 'order' });
    assert.equal(r.status, 200);
    assert.equal(r.body.delivered, 4);
    const text = '{"order":7,"state":"paid"}';
    assert.equal(await sio2.newMsg.next((m) => m === text), text);
    assert.equal(await sio4.newMsg.next((m) => m === text), text);
    assert.equal(await raw.messages.next((m) => m === text), text);
    const m = await native.next((f) => f.type === 'message' && f.event === 'order');
    assert.deepEqual(m.data, { order: 7, state: 'paid' });
  });

  it('lets the server API subscribe the uid to a channel (joinGroup) on every transport', async () => {
    const sub = await h.api('POST', '/api/users/u1/subscribe', { channel: 'group1' });
    assert.equal(sub.body.connections, 4);
    await native.next((f) => f.type === 'subscribed' && f.channel === 'group1');
    const r = await h.api('POST', '/api/publish', { to: { channel: 'group1' }, data: 'to the group' });
    assert.equal(r.body.delivered, 4);
    assert.equal(await sio2.newMsg.next((m) => m === 'to the group'), 'to the group');
    assert.equal(await sio4.newMsg.next((m) => m === 'to the group'), 'to the group');
    assert.equal(await raw.messages.next((m) => m === 'to the group'), 'to the group');
    await native.next((f) => f.type === 'message' && f.stream === 'channel:group1');
    const ch = await h.api('GET', '/api/channels/group1');
    assert.deepEqual(ch.body, { channel: 'group1', connections: 4, users: ['u1'] });
  });

  it('answers ok on 2121 and 5678 when the uid is online through the native endpoint only', async () => {
    const only = await TestClient.welcome(h.wsUrl, await h.token('native-only'));
    assert.equal(await (await fetch(`http://127.0.0.1:${h.ports.httpPush}/?type=publish&to=native-only&content=hey`)).text(), 'ok');
    assert.equal(await php('text-push.php', [String(h.ports.text), 'native-only']), 'ok\n');
    await only.next((f) => f.type === 'message' && f.data === 'hey');
    await only.next((f) => f.type === 'message' && f.data?.uid === 'native-only');
    only.close();
  });

  it('keeps what it answered offline / fail for in the inbox: a native client of that uid gets it on connect', async () => {
    assert.equal(await (await fetch(`http://127.0.0.1:${h.ports.httpPush}/?type=publish&to=later&content=while+away`)).text(), 'offline');
    assert.equal(await php('text-push.php', [String(h.ports.text), 'later', '10%']), 'fail\n');
    const c = await TestClient.welcome(h.wsUrl, await h.token('later'));
    await c.next((f) => f.type === 'message' && f.data?.percent === '10%');
    assert.deepEqual(
      c
        .messages()
        .filter((m) => m.stream === 'user:later')
        .map((m) => [m.stream, m.data]),
      [
        ['user:later', 'while away'],
        ['user:later', { uid: 'later', percent: '10%' }],
      ],
    );
    c.close();
  });

  it('keeps other users out of it', async () => {
    const other = await TestClient.welcome(h.wsUrl, await h.token('someone-else'));
    const otherRaw = await RawWsClient.login(h, 'someone-else');
    assert.equal(await php('text-push.php', [String(h.ports.text), 'u1', 'private']), 'ok\n');
    await raw.messages.next((m) => m.includes('private'));
    await settle(other);
    assert.deepEqual(
      other.messages().filter((m) => m.stream !== 'broadcast'),
      [],
    );
    // A later push to the other user arrives alone: nothing of u1's was queued before it on that socket.
    assert.equal(await php('text-push.php', [String(h.ports.text), 'someone-else', 'theirs']), 'ok\n');
    await otherRaw.messages.next();
    assert.deepEqual(otherRaw.messages.items, ['{"uid":"someone-else","percent":"theirs"}']);
    other.close();
    await otherRaw.close();
  });
});
