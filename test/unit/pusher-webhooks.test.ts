import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import PusherServer from 'pusher';
import { pino } from 'pino';
import { PusherWebhooks, signPusherWebhook } from '../../src/transports/pusher/webhooks.ts';

const KEY = '278d425bdf160c739803';
const SECRET = '7ad3773142a6692b25b8';

describe('pusher webhook signature', () => {
  it('signs the worked example of the reference (§11)', () => {
    const body = '{"time_ms":1327078148132,"events":[{"name":"channel_occupied","channel":"test_channel"}]}';
    const signature = signPusherWebhook(SECRET, body);
    assert.equal(signature, '709fdb84c03664445f7698120b0edf0acc1ab1c8c6e93a0368c61841d6b998aa');
    const sdk = new PusherServer({ appId: '3', key: KEY, secret: SECRET, cluster: 'mt1' });
    const headers = { 'content-type': 'application/json', 'x-pusher-key': KEY, 'x-pusher-signature': signature };
    const hook = sdk.webhook({ headers, rawBody: body });
    assert.ok(hook.isValid());
    assert.equal(hook.getTime().getTime(), 1327078148132);
    assert.ok(!sdk.webhook({ headers, rawBody: body.replace('test_channel', 'other') }).isValid());
    assert.ok(!sdk.webhook({ headers: { ...headers, 'content-type': 'application/json; charset=utf-8' }, rawBody: body }).isValid());
  });

  it('refuses a URL that is not http or https, and a key that cannot be a header', async () => {
    const log = pino({ level: 'silent' });
    for (const webhookUrl of ['ftp://app.test/hook', 'file:///tmp/x', 'not a url']) {
      assert.throws(() => new PusherWebhooks({ key: KEY, secret: SECRET, webhookUrl }, log), webhookUrl);
    }
    assert.throws(() => new PusherWebhooks({ key: 'k\r\nX-Evil: 1', secret: SECRET, webhookUrl: 'http://127.0.0.1:1/' }, log));
    await new PusherWebhooks({ key: KEY, secret: SECRET, webhookUrl: 'https://app.test/hook' }, log).close(0);
  });
});
