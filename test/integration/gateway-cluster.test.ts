// GatewayWorker mode on two nodes sharing one Redis: each Register lists both gateways, so an unchanged worker
// links to both and a GatewayClient asks both; every client gets a fan-out send once, and the answers cover both
// nodes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { gatewayClient, GwClient, PhpWorker, startGateway, type GwHerald } from '../helpers/gatewayworker.ts';
import { REDIS_URL } from '../helpers/redis.ts';

describe('gateway: two nodes on one Redis', () => {
  const prefix = `herald-test:${randomBytes(4).toString('hex')}:`;
  const nodes: GwHerald[] = [];
  let worker: PhpWorker | undefined;
  before(async () => {
    for (let i = 0; i < 2; i++) nodes.push(await startGateway({}, { redis: { url: REDIS_URL, prefix, presenceHeartbeatMs: 200 } }));
  });
  after(async () => {
    await worker?.stop();
    for (const n of nodes) await n.close();
  });

  it('a worker of one Register links to both gateways; sends reach each client once; GatewayClient answers cover both', async () => {
    const [a, b] = [nodes[0]!, nodes[1]!];
    worker = await PhpWorker.start(a.register);
    // Node a's Register learns node b within a discovery round and tells the worker, which links to b as well.
    await worker.lines.next((l) => l === `linked 127.0.0.1:${b.inner}`, 'the link to the other node');

    const ca = await GwClient.open(a);
    const cb = await GwClient.open(b);
    assert.notEqual(ca.id.slice(8, 12), cb.id.slice(8, 12), 'each client id names its own node');
    await ca.call('bindUid', ca.id, 'u1');
    await cb.call('bindUid', cb.id, 'u2');
    await ca.call('joinGroup', ca.id, 'room');
    await cb.call('joinGroup', cb.id, 'room');

    // The worker sends each fan-out command to both gateways; each delivers to its own clients only.
    await cb.call('sendToGroup', 'room', 'to the room');
    await cb.call('sendToUid', 'u1', 'to u1');
    await cb.call('sendToClient', ca.id, 'to a by id');
    await cb.call('sendToAll', 'to all');
    await ca.messages.next((m) => m === 'to all', 'the last send');
    await cb.messages.next((m) => m === 'to all', 'the last send');
    const sent = ['to the room', 'to u1', 'to a by id', 'to all'];
    assert.deepEqual(
      ca.messages.items.filter((m) => sent.includes(m)),
      sent,
      'node a: each once, in order',
    );
    assert.deepEqual(
      cb.messages.items.filter((m) => sent.includes(m)),
      ['to the room', 'to all'],
      'node b: each once',
    );

    const r = await gatewayClient(a.register, [
      ['isUidOnline', 'u2'],
      ['getClientIdByUid', 'u2'],
      ['getAllClientIdCount'],
      ['getClientIdCountByGroup', 'room'],
      ['getUidListByGroup', 'room'],
      ['isOnline', cb.id],
    ]);
    assert.deepEqual(
      r.map((x) => x.json),
      [1, [cb.id], 2, 2, { u1: 'u1', u2: 'u2' }, 1],
    );
    await ca.close();
    await cb.close();
  });
});
