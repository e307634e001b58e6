import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { php, RawWsClient, requirePhp, SioClient, startCompat, TextClient, type CompatHerald } from '../helpers/compat.ts';

describe('compat: Workerman Text push port (5678)', () => {
  let h: CompatHerald;
  before(async () => {
    requirePhp();
    h = await startCompat({ maxLineBytes: 64 * 1024 });
  });
  after(() => h.close());

  it('runs the seeds\' PHP backend: the uid\'s websocket gets the JSON line verbatim, PHP reads "ok\\n"', async () => {
    const page = await RawWsClient.login(h, 'uid1');
    const out = await php('text-push.php', [String(h.ports.text), 'uid1']);
    assert.equal(out, 'ok\n');
    assert.equal(await page.messages.next(), '{"uid":"uid1","percent":"88%"}');
    await page.close();
  });

  it('answers "fail\\n" for a uid nobody is logged in as', async () => {
    assert.equal(await php('text-push.php', [String(h.ports.text), 'nobody-here']), 'fail\n');
  });

  it("forwards PHP's escaped JSON byte for byte (slashes and unicode escapes kept)", async () => {
    const page = await RawWsClient.login(h, 'uid2');
    assert.equal(await php('text-push.php', [String(h.ports.text), 'uid2', '50% / 完成']), 'ok\n');
    assert.equal(await page.messages.next(), '{"uid":"uid2","percent":"50% \\/ \\u5b8c\\u6210"}');
    await page.close();
  });

  it('answers pipelined lines each, in order, with CRLF tolerated and lines split across writes', async () => {
    const page = await RawWsClient.login(h, 'pipe');
    const t = await TextClient.open(h.ports.text);
    t.write('{"uid":"pipe","n":1}\n{"uid":"nobody","n":2}\r\nnot json\n{"uid":"pipe",');
    t.write('"n":3}\r\n');
    assert.equal(await t.lines(4), 'ok\nfail\nfail\nok\n');
    assert.equal(await page.messages.next((m) => m.includes('"n":1')), '{"uid":"pipe","n":1}');
    assert.equal(await page.messages.next((m) => m.includes('"n":3')), '{"uid":"pipe","n":3}');
    assert.deepEqual(page.messages.items, ['{"uid":"pipe","n":1}', '{"uid":"pipe","n":3}']);
    t.close();
    await page.close();
  });

  it('takes an integer uid as its decimal string, as PHP array keys do', async () => {
    const page = await RawWsClient.login(h, '123');
    const t = await TextClient.open(h.ports.text);
    t.write('{"uid":123,"x":"y"}\n');
    assert.equal(await t.lines(1), 'ok\n');
    assert.equal(await page.messages.next(), '{"uid":123,"x":"y"}');
    t.close();
    await page.close();
  });

  it('answers "fail\\n" to lines without a usable uid, and keeps serving that connection', async () => {
    const page = await RawWsClient.login(h, 'after-bad');
    const t = await TextClient.open(h.ports.text);
    const bad = ['{"uid":["a"]}', '{"uid":{"a":1}}', '{"uid":""}', '{"uid":1.5}', '{"percent":"no uid"}', '[1,2]', '"str"', 'null', '', '{"uid":"a\\u0000b"}'];
    t.write(`${bad.join('\n')}\n{"uid":"after-bad"}\n`);
    assert.equal(await t.lines(bad.length + 1), `${'fail\n'.repeat(bad.length)}ok\n`);
    assert.equal(await page.messages.next(), '{"uid":"after-bad"}');
    t.close();
    await page.close();
  });

  it('documents a broadcast form: {"broadcast":true} reaches every logged-in client, answered "ok\\n"', async () => {
    const a = await RawWsClient.login(h, 'bc-a');
    const b = await RawWsClient.login(h, 'bc-b');
    const sio = await SioClient.login(h, 4, 'bc-c');
    const t = await TextClient.open(h.ports.text);
    t.write('{"broadcast":true,"notice":"maintenance"}\n');
    assert.equal(await t.lines(1), 'ok\n');
    const line = '{"broadcast":true,"notice":"maintenance"}';
    assert.equal(await a.messages.next(), line);
    assert.equal(await b.messages.next(), line);
    assert.equal(await sio.newMsg.next(), line);
    t.close();
    sio.close();
    await a.close();
    await b.close();
  });

  it('delivers to every tab of a uid, and one tab closing keeps the others mapped (unlike the original)', async () => {
    const tab1 = await RawWsClient.login(h, 'tabs');
    const tab2 = await RawWsClient.login(h, 'tabs');
    assert.equal(await php('text-push.php', [String(h.ports.text), 'tabs', '1']), 'ok\n');
    assert.equal(await tab1.messages.next(), '{"uid":"tabs","percent":"1"}');
    assert.equal(await tab2.messages.next(), '{"uid":"tabs","percent":"1"}');
    await tab2.close();
    await h.hubChanged(() => h.server.context.hub.connectionsOf('tabs').size === 1);
    assert.equal(await php('text-push.php', [String(h.ports.text), 'tabs', '2']), 'ok\n');
    assert.equal(await tab1.messages.next((m) => m.includes('"2"')), '{"uid":"tabs","percent":"2"}');
    await tab1.close();
  });

  it('closes only the connection that sends a 20 MB line; it first answers its earlier lines, then "fail\\n"', async () => {
    const page = await RawWsClient.login(h, 'big');
    const bystander = await TextClient.open(h.ports.text);
    const t = await TextClient.open(h.ports.text);
    t.write('{"uid":"big","n":1}\n');
    t.write(Buffer.alloc(20 * 1024 * 1024, 0x61));
    await t.ended;
    assert.equal(t.received, 'ok\nfail\n');
    bystander.write('{"uid":"big","n":2}\n');
    assert.equal(await bystander.lines(1), 'ok\n');
    assert.equal(await page.messages.next((m) => m.includes('"n":2')), '{"uid":"big","n":2}');
    assert.equal(page.closeCode, undefined, 'the websocket client was not disturbed');
    bystander.close();
    await page.close();
  });

  it('publishes through the dispatcher: a native client of the uid gets the line as a JSON object', async () => {
    const { TestClient } = await import('../helpers/ws-client.ts');
    const native = await TestClient.welcome(h.wsUrl, await h.token('nat'));
    assert.equal(await php('text-push.php', [String(h.ports.text), 'nat', '7%']), 'ok\n', 'a native connection counts as online');
    const m = await native.next((f) => f.type === 'message' && f.stream === 'user:nat');
    assert.equal(m.stream, 'user:nat');
    assert.deepEqual(m.data, { uid: 'nat', percent: '7%' });
    assert.equal(m.event, undefined);
    native.close();
  });
});
