import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { openDatabase } from '../store/sqlite-driver.ts';
import { z } from 'zod';
import type { Operation } from '../api/operations.ts';
import { ApiError, fromZod } from '../api/errors.ts';
import { readJson } from '../api/http/body.ts';
import type { Context } from '../context.ts';
import type { ConnectionInfo } from '../core/upstream.ts';
import { ErrorCode } from '../protocol/codes.ts';

/** The channel every demo page subscribes to: new orders and presence changes. */
export const DEMO_CHANNEL = 'orders';

export interface Order {
  id: number;
  item: string;
  quantity: number;
  user: string;
  createdAt: number;
}

export interface Presence {
  /** Increases with every change (also across restarts): a page keeps the newest it has seen. */
  seq: number;
  users: { user: string; connections: number }[];
}

/**
 * The live-list demo of the seeds (seed 000), as a backend would build it: rows live in a real database, and an
 * insert is followed by a publish through Herald's API. Routes: `GET /demo/orders`, `POST /demo/orders`,
 * `GET /demo/online`. Mounted only when `demo.enabled` (default: dev mode).
 */
export interface Demo {
  /** Handles `/demo/...`; the caller routes only those paths here. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  close(): void;
}

const NewOrder = z
  .object({
    item: z.string().trim().min(1, 'item is required').max(200),
    quantity: z.coerce.number().int().min(1).max(1000).default(1),
  })
  .strict();

const MAX_LIST = 200;

export function demoEnabled(ctx: Context): boolean {
  return ctx.config.demo.enabled ?? ctx.config.dev;
}

export function createDemo(ctx: Context, ops: Record<string, Operation>): Demo {
  const dir = resolve(ctx.config.dataDir);
  mkdirSync(dir, { recursive: true });
  const db = openDatabase(join(dir, 'demo.db'));
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    user TEXT NOT NULL,
    created_at INTEGER NOT NULL
  )`);
  type Row = { id: number; item: string; quantity: number; user: string; created_at: number };
  const toOrder = (r: Row): Order => ({ id: r.id, item: r.item, quantity: r.quantity, user: r.user, createdAt: r.created_at });
  const list = db.prepare<[number], Row>('SELECT id, item, quantity, user, created_at FROM orders ORDER BY id DESC LIMIT ?');
  const insert = db.prepare<[string, number, string, number], Row>(
    'INSERT INTO orders (item, quantity, user, created_at) VALUES (?, ?, ?, ?) RETURNING id, item, quantity, user, created_at',
  );

  let lastSeq = 0;
  const presence = (): Presence => {
    lastSeq = Math.max(Date.now(), lastSeq + 1);
    const users: Presence['users'] = [];
    for (const user of ctx.hub.users()) users.push({ user, connections: ctx.hub.connectionsOf(user).size });
    users.sort((a, b) => a.user.localeCompare(b.user));
    return { seq: lastSeq, users };
  };

  const publish = async (input: Record<string, unknown>): Promise<void> => {
    await ops.publish!(input);
  };

  // Presence is pushed, never polled: every connect or disconnect publishes the new list to the demo channel.
  const onLifecycle = (_kind: 'connect' | 'disconnect', conn: ConnectionInfo): void => {
    if (conn.user === '') return;
    publish({ to: { channel: DEMO_CHANNEL }, event: 'online', data: presence() }).catch((err: unknown) =>
      ctx.log.warn({ err: (err as Error).message }, 'demo: presence publish failed'),
    );
  };
  ctx.upstream.lifecycle.add(onLifecycle);

  /** The caller proves who it is with its Herald client token (the one the page connects with). */
  const caller = async (req: IncomingMessage): Promise<string> => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (m === null) throw new ApiError(401, ErrorCode.Unauthorized, 'send the client token as Authorization: Bearer <token>');
    const check = await ctx.tokens.verify(m[1]!);
    if (!check.ok) throw new ApiError(401, ErrorCode.Unauthorized, check.reason);
    return check.identity.user;
  };

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  };

  return {
    async handle(req, res, url) {
      const route = `${req.method ?? 'GET'} ${url.pathname}`;
      if (route === 'GET /demo/orders') return send(res, 200, { orders: list.all(MAX_LIST).map(toOrder) });
      if (route === 'GET /demo/online') return send(res, 200, presence());
      if (route === 'POST /demo/orders') {
        const user = await caller(req);
        const parsed = NewOrder.safeParse(await readJson(req, ctx.config.limits.maxBodyBytes));
        if (!parsed.success) throw fromZod(parsed.error);
        // Insert, then push: the row is committed before anyone is told about it.
        const order = toOrder(insert.get(parsed.data.item, parsed.data.quantity, user, Date.now())!);
        await publish({ to: { channel: DEMO_CHANNEL }, event: 'order', data: order });
        await publish({
          to: { user },
          event: 'notice',
          data: { text: `Order #${order.id} placed: ${order.quantity} × ${order.item}`, orderId: order.id },
        });
        return send(res, 201, { order });
      }
      req.resume();
      if (url.pathname === '/demo/orders') throw new ApiError(405, ErrorCode.MethodNotAllowed, 'use GET or POST for /demo/orders', 'GET, POST');
      throw new ApiError(404, ErrorCode.NotFound, `no demo endpoint ${url.pathname}`);
    },
    close() {
      ctx.upstream.lifecycle.delete(onLifecycle);
      db.close();
    },
  };
}
