// Fixtures and assertions shared by the HTTP API tests (api-publish.test.ts, api-users.test.ts).
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { ConfigInput } from '../../src/config.ts';
import { startHerald, type TestHerald } from './herald.ts';
import { settle, TestClient, type Frame } from './ws-client.ts';

export interface Fixture {
  h: TestHerald;
  /** A welcomed client of `user`; closed (and awaited) when the test ends. */
  connect(user: string, channels?: string[]): Promise<TestClient>;
}

/** A fresh server per test, torn down with its clients when the test ends. */
export async function fixture(t: TestContext, overrides: ConfigInput = {}): Promise<Fixture> {
  const h = await startHerald(overrides);
  const clients: TestClient[] = [];
  t.after(async () => {
    for (const c of clients) if (c.closeCode === undefined) c.close();
    await Promise.all(clients.map((c) => c.closed().catch(() => undefined)));
    await h.close();
  });
  return {
    h,
    async connect(user, channels) {
      const c = await TestClient.welcome(h.wsUrl, await h.token(user, channels));
      clients.push(c);
      return c;
    },
  };
}

/** Raw fetch against the server (for requests the h.api helper would not send). */
export async function raw(h: TestHerald, method: string, path: string, init: { auth?: string | null; body?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const auth = init.auth === undefined ? `Bearer ${h.apiKey}` : init.auth;
  if (auth !== null) headers.authorization = auth;
  const res = await fetch(h.url + path, { method, headers, ...(init.body === undefined ? {} : { body: init.body }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/** Asserts an error reply: the status and the exact shape {"error":{"code","message"}}. */
export function assertError(res: { status: number; body: any }, status: number, code?: string): void {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.deepEqual(Object.keys(res.body ?? {}), ['error'], `error body shape: ${JSON.stringify(res.body)}`);
  assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message']);
  assert.equal(typeof res.body.error.code, 'string');
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0, 'the message is not empty');
  if (code !== undefined) assert.equal(res.body.error.code, code, `error code (${res.body.error.message})`);
}

export function parsed(r: { status: number; text: string }): { status: number; body: any } {
  return { status: r.status, body: JSON.parse(r.text) };
}

export const isMessage = (stream: string, offset: number) => (f: Frame) => f.type === 'message' && f.stream === stream && f.offset === offset;

/** Subscribes through the client's own frames and waits for the acknowledgement. */
export async function subscribe(c: TestClient, channel: string, id: number): Promise<void> {
  c.send({ type: 'subscribe', channel, id });
  const ack = await c.next((f) => (f.type === 'subscribed' || f.type === 'error') && f.id === id);
  const { type, stream, recovered, epoch } = ack;
  assert.deepEqual(
    { type, channel: ack.channel, id: ack.id, stream, recovered },
    { type: 'subscribed', channel, id, stream: `channel:${channel}`, recovered: true },
  );
  assert.equal(typeof epoch, 'string');
}

/** Proves `c` received no message frames at all (settle: everything queued before the pong has arrived). */
export async function assertNoMessages(c: TestClient, who: string): Promise<void> {
  await settle(c);
  assert.deepEqual(c.messages(), [], `${who} must receive nothing`);
}
