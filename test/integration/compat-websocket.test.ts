import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawHttp, RawWsClient, startCompat, TextClient, type CompatHerald } from '../helpers/compat.ts';

describe('compat: Workerman websocket, first frame = uid (1234)', () => {
  let h: CompatHerald;
  before(async () => {
    h = await startCompat({ handshakeTimeoutMs: 400, maxClientMessageBytes: 1024 });
  });
  after(() => h.close());

  const push = async (line: string): Promise<string> => {
    const t = await TextClient.open(h.ports.text);
    t.write(`${line}\n`);
    const reply = await t.lines(1);
    t.close();
    return reply;
  };

  it('does what the seed client.html does: send the uid on open, then receive pushes as text frames', async () => {
    const page = await RawWsClient.open(`ws://127.0.0.1:${h.ports.websocket}`);
    page.ws.send('uid1');
    await h.hubChanged(() => h.server.context.hub.connectionsOf('uid1').size === 1);
    const [conn] = h.server.context.hub.connectionsOf('uid1');
    assert.equal(conn!.transport, 'websocket');
    assert.equal(await push('{"uid":"uid1","percent":"88%"}'), 'ok\n');
    assert.equal(await page.messages.next(), '{"uid":"uid1","percent":"88%"}');
    await page.close();
    await h.hubChanged(() => h.server.context.hub.connectionsOf('uid1').size === 0);
  });

  it('accepts any path, as Workerman does', async () => {
    const page = await RawWsClient.login(h, 'pathy', '/some/where?x=1');
    assert.equal(await push('{"uid":"pathy"}'), 'ok\n');
    assert.equal(await page.messages.next(), '{"uid":"pathy"}');
    await page.close();
  });

  it('ignores frames after the first, and keeps the connection', async () => {
    const page = await RawWsClient.login(h, 'chatty');
    page.ws.send('another uid');
    page.ws.send(Buffer.from([0xff, 0x00, 0xfe]), { binary: true });
    page.ws.send('{"uid":"x"}');
    assert.equal(await push('{"uid":"chatty","n":1}'), 'ok\n');
    assert.equal(await page.messages.next(), '{"uid":"chatty","n":1}');
    assert.equal(h.server.context.hub.connectionsOf('another uid').size, 0);
    assert.equal(page.closeCode, undefined);
    await page.close();
  });

  it('refuses binary garbage, an empty or control-character uid, and an oversized first frame; others are undisturbed', async () => {
    const bystander = await RawWsClient.login(h, 'bystander');
    const cases: [string | Buffer, number][] = [
      [Buffer.from([0x00, 0xff, 0x13, 0x37]), 1003],
      ['', 1008],
      ['bad\u0000uid', 1008],
      ['x'.repeat(300), 1008],
      ['y'.repeat(2048), 1009],
    ];
    for (const [first, code] of cases) {
      const c = await RawWsClient.open(`ws://127.0.0.1:${h.ports.websocket}`);
      c.ws.send(first, { binary: Buffer.isBuffer(first) });
      assert.equal(await c.closed, code, `first frame ${JSON.stringify(String(first).slice(0, 20))}`);
    }
    assert.equal(await push('{"uid":"bystander"}'), 'ok\n');
    assert.equal(await bystander.messages.next(), '{"uid":"bystander"}');
    assert.equal(bystander.closeCode, undefined);
    await bystander.close();
  });

  it('closes a websocket that never sends its uid, after handshakeTimeoutMs, with 1008', async () => {
    const idle = await RawWsClient.open(`ws://127.0.0.1:${h.ports.websocket}`);
    assert.equal(await idle.closed, 1008);
    assert.equal(idle.closeReason, 'no uid in time');
  });

  it('drops a client that never finishes its HTTP handshake, while others are served meanwhile', async () => {
    const stuck = await rawHttp(h.ports.websocket, 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
    const page = await RawWsClient.login(h, 'during-stuck');
    assert.equal(await push('{"uid":"during-stuck"}'), 'ok\n');
    assert.equal(await page.messages.next(), '{"uid":"during-stuck"}');
    await stuck.response;
    assert.ok(stuck.socket.destroyed || stuck.socket.readableEnded, 'the stuck handshake was closed by the server');
    await page.close();
  });

  it('answers a plain HTTP request with 400', async () => {
    const res = await fetch(`http://127.0.0.1:${h.ports.websocket}/`);
    assert.equal(res.status, 400);
    await res.text();
  });

  it('shows native publishes as text: a string as itself, other JSON as its JSON text', async () => {
    const page = await RawWsClient.login(h, 'nat-pub');
    await h.api('POST', '/api/publish', { to: { user: 'nat-pub' }, data: 'plain <text>' });
    await h.api('POST', '/api/publish', { to: { user: 'nat-pub' }, data: { a: [1, 'two'] }, event: 'ev' });
    await h.api('POST', '/api/publish', { to: { user: 'nat-pub' }, data: 42 });
    await page.messages.next((m) => m === '42');
    assert.deepEqual(page.messages.items, ['plain <text>', '{"a":[1,"two"]}', '42']);
    await page.close();
  });

  it('is kicked by the native disconnect API, with the code passed through', async () => {
    const page = await RawWsClient.login(h, 'kickme');
    const r = await h.api('POST', '/api/users/kickme/disconnect', {});
    assert.equal(r.body.disconnected, 1);
    assert.equal(await page.closed, 4502);
  });
});
