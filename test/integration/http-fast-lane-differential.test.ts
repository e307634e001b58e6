// The fast lane against Herald's own Node path over real sockets: the same bytes, in the same writes, to a
// Herald with the fast lane and to one without it (`http.fastLane: false`); the messages published must be the
// same. This also holds the in-process oracle of the fuzz test (test/helpers/llhttp-oracle.ts) to the real
// server. And the lane's deadlines and end of stream, as Node's.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { CORPUS, generate, MAX_BODY, splits } from '../helpers/http-cases.ts';
import { perTestCleanup, type TestHerald } from '../helpers/herald.ts';
import { prng } from '../helpers/prng.ts';

const { server, cleanups } = perTestCleanup(afterEach);
const GENERATED = Number(process.env.FUZZ_SOCKET_CASES ?? 300);
const OPTIONS = { apiKey: 'fuzz-key-0123456789abcdef', store: { type: 'memory' as const }, limits: { maxBodyBytes: MAX_BODY } };

async function open(h: TestHerald): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port: h.server.port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  cleanups.push(() => void socket.destroy());
  return socket;
}

/** Writes the chunks, ends the client's side, and resolves with what came back once the server has closed. */
async function exchange(h: TestHerald, chunks: Buffer[]): Promise<string> {
  const socket = await open(h);
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.once('close', resolve));
  for (const c of chunks) socket.write(c);
  socket.end();
  await closed;
  return answer;
}

/** Messages published so far to the users the cases address. */
async function published(h: TestHerald): Promise<number[]> {
  const store = h.server.context.store;
  return Promise.all([0, 1, 2].map(async (i) => (await store.position(`user:u${i}`)).top));
}

const statuses = (answer: string): string => [...answer.matchAll(/HTTP\/1\.1 (\d)\d\d /g)].map((m) => `${m[1]}xx`).join(' ');

describe('HTTP fast lane against Node, over sockets', () => {
  test(`the corpus and ${GENERATED} generated cases publish the same messages with and without the fast lane`, async () => {
    const lane = await server(OPTIONS);
    const node = await server({ ...OPTIONS, http: { fastLane: false } });
    const r = prng(1616);
    const cases = [...CORPUS.map((c) => c.bytes), ...Array.from({ length: GENERATED }, () => generate(r))];
    const divergences: string[] = [];
    let publishedCases = 0;
    for (const bytes of cases) {
      const chunks = splits(r, bytes, false);
      const [laneBefore, nodeBefore] = [await published(lane), await published(node)];
      const laneAnswer = await exchange(lane, chunks);
      const nodeAnswer = await exchange(node, chunks);
      const laneCount = (await published(lane)).map((n, i) => n - laneBefore[i]!);
      const nodeCount = (await published(node)).map((n, i) => n - nodeBefore[i]!);
      if (laneCount.some((n) => n > 0)) publishedCases++;
      if (JSON.stringify(laneCount) !== JSON.stringify(nodeCount)) {
        divergences.push(
          `${JSON.stringify(bytes.toString('latin1'))}: lane ${laneCount} (${statuses(laneAnswer)}), node ${nodeCount} (${statuses(nodeAnswer)})`,
        );
      }
    }
    assert.deepEqual(divergences, []);
    assert.ok(publishedCases > cases.length / 10, `${publishedCases} cases published something`);
  });

  test('a head that trickles in is answered 408 at headersTimeout and never executed', { timeout: 30_000 }, async () => {
    const h = await server(OPTIONS);
    h.server.http.headersTimeout = 300;
    h.server.http.keepAliveTimeout = 60_000;
    const socket = await open(h);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    const head = Buffer.from(`POST /api/publish HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${OPTIONS.apiKey}\r\nX-Slow: ${'a'.repeat(4000)}`);
    // One byte every 20 ms: the connection is never idle, so only the header deadline can stop it.
    let i = 0;
    const trickle = setInterval(() => {
      if (i < head.length && !socket.destroyed) socket.write(head.subarray(i, ++i));
    }, 20);
    cleanups.push(() => clearInterval(trickle));
    await new Promise((resolve) => socket.once('close', resolve));
    clearInterval(trickle);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.ok(i < head.length, 'closed before the head was complete');
    // Whatever the client still sends is not read: the rest of the request, and its body.
    assert.deepEqual(await published(h), [0, 0, 0]);
  });

  test('a body that does not arrive in time is answered 408 at requestTimeout and never executed', { timeout: 30_000 }, async () => {
    const h = await server(OPTIONS);
    h.server.http.headersTimeout = 200;
    h.server.http.requestTimeout = 400;
    h.server.http.keepAliveTimeout = 60_000;
    const socket = await open(h);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    const body = JSON.stringify({ to: { user: 'u0' }, data: 1 });
    socket.write(
      `POST /api/publish HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${OPTIONS.apiKey}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    let i = 5;
    const trickle = setInterval(() => {
      if (i < body.length - 1 && !socket.destroyed) socket.write(body[i++]!);
    }, 20);
    cleanups.push(() => clearInterval(trickle));
    await new Promise((resolve) => socket.once('close', resolve));
    clearInterval(trickle);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.deepEqual(await published(h), [0, 0, 0]);
  });

  test('the end of the client stream: complete requests answered, then closed; a cut request answered 400', async () => {
    const h = await server(OPTIONS);
    h.server.http.keepAliveTimeout = 60_000;
    const body = JSON.stringify({ to: { user: 'u1' }, data: 1 });
    const request = `POST /api/publish HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${OPTIONS.apiKey}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    assert.equal(statuses(await exchange(h, [Buffer.from(request)])), '2xx');
    assert.equal(statuses(await exchange(h, [Buffer.from(request + request.slice(0, 30))])), '2xx 4xx');
    assert.deepEqual(await published(h), [0, 2, 0]);
  });
});
