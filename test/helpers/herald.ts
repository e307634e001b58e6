import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ConfigInput } from '../../src/config.ts';
import { createHerald, type HeraldServer } from '../../src/server.ts';

export const API_KEY = 'test-api-key-0123456789';
export const TOKEN_SECRET = 'test-token-secret-0123456789abcdef0123456789';

export interface TestHerald {
  server: HeraldServer;
  url: string;
  wsUrl: string;
  linePort: number;
  apiKey: string;
  dataDir: string;
  token(user: string, channels?: string[], ttlSeconds?: number): Promise<string>;
  /** POST/GET /api/... with the API key; returns status and parsed JSON. */
  api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** A real Herald on ephemeral ports (HTTP and line port), with a fresh data directory. */
export async function startHerald(overrides: ConfigInput = {}): Promise<TestHerald> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-test-'));
  const server = createHerald({
    env: {},
    cwd: dataDir,
    logger: pino({ level: process.env.HERALD_TEST_LOG ?? 'silent' }),
    overrides: {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      apiKey: API_KEY,
      tokenSecret: TOKEN_SECRET,
      ...overrides,
      line: { port: 0, ...overrides.line },
    },
  });
  await server.listen();
  const url = server.url;
  return {
    server,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/ws`,
    linePort: server.linePort ?? 0,
    apiKey: API_KEY,
    dataDir,
    token: (user, channels, ttlSeconds = 3600) => server.context.tokens.sign(user, channels ? { channels, ttlSeconds } : { ttlSeconds }),
    async api(method, path, body) {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Per-test cleanup: everything a test opens is registered and closed after it, pass or fail. Call once per test
 * file; `server()` starts a Herald that is closed that way.
 */
export function perTestCleanup(afterEach: (fn: () => Promise<void>) => void): {
  cleanups: (() => Promise<void> | void)[];
  server(overrides?: ConfigInput): Promise<TestHerald>;
} {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  return {
    cleanups,
    async server(overrides = {}) {
      const h = await startHerald(overrides);
      cleanups.push(() => h.close());
      return h;
    },
  };
}
