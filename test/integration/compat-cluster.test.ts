// The Workerman listeners across nodes: a push on node A reaches a uid logged in on node B, and the answers
// (`ok`/`offline` on 2121, `ok`/`fail` on 5678) come from cluster presence.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RawWsClient, startCompat, type CompatHerald } from '../helpers/compat.ts';
import { REDIS_URL } from '../helpers/redis.ts';

describe('compat listeners on two nodes sharing Redis', () => {
  let a: CompatHerald;
  let b: CompatHerald;
  before(async () => {
    const redis = { url: REDIS_URL, prefix: `herald-test:${randomBytes(4).toString('hex')}:` };
    a = await startCompat({}, { redis });
    b = await startCompat({}, { redis });
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it('2121 on node A pushes to a uid on node B and answers ok; offline for nobody', async () => {
    const client = await RawWsClient.login(b, 'cross-uid');
    const push = async (to: string) =>
      (
        await fetch(`http://127.0.0.1:${a.ports.httpPush}/`, { method: 'POST', body: new URLSearchParams({ type: 'publish', to, content: 'over there' }) })
      ).text();
    assert.equal(await push('cross-uid'), 'ok', 'node A sees the uid online on node B');
    assert.equal(await client.messages.next(), 'over there');
    assert.equal(await push('nobody-anywhere'), 'offline');
    await client.close();
  });

  it('5678 on node A answers ok for a uid on node B and forwards the line', async () => {
    const client = await RawWsClient.login(b, 'cross-text');
    const sock = connect(a.ports.text, '127.0.0.1');
    const replies: string[] = [];
    let wake: (() => void) | undefined;
    sock.on('data', (d: Buffer) => {
      replies.push(...d.toString().split('\n').filter(Boolean));
      wake?.();
    });
    const line = JSON.stringify({ uid: 'cross-text', percent: '88%' });
    sock.write(`${line}\n${JSON.stringify({ uid: 'ghost', x: 1 })}\n`);
    await new Promise<void>((resolve) => {
      wake = () => replies.length >= 2 && resolve();
      wake();
    });
    assert.deepEqual(replies, ['ok', 'fail']);
    assert.equal(await client.messages.next(), line, 'the whole line, verbatim, on the other node');
    sock.end();
    await client.close();
  });
});
