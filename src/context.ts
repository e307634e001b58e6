import type { Logger } from 'pino';
import type { TokenService } from './auth/tokens.ts';
import type { HeraldConfig } from './config.ts';
import type { Broker } from './broker/broker.ts';
import type { Presence } from './presence/presence.ts';
import type { Members } from './presence/members.ts';
import type { Store } from './store/store.ts';
import type { Dispatcher } from './core/dispatcher.ts';
import type { Idempotency } from './core/idempotency.ts';
import type { Receipts } from './core/receipts.ts';
import type { Hub } from './core/hub.ts';
import type { Upstream } from './core/upstream.ts';
import type { ControlBus } from './core/control-bus.ts';

/** What transports and APIs get from the composition root. */
export interface Context {
  config: HeraldConfig;
  hub: Hub;
  dispatcher: Dispatcher;
  store: Store;
  broker: Broker;
  presence: Presence;
  /** Presence-channel members by user id, across nodes (the Pusher protocol's presence channels). */
  members: Members;
  receipts: Receipts;
  idempotency: Idempotency;
  tokens: TokenService;
  upstream: Upstream;
  /** Connection-addressed calls, run on the node that holds the connection (or on every node for a query). */
  control: ControlBus;
  log: Logger;
  /** Session ids: unique per node (node id + counter), cheap to make. */
  nextSessionId(): string;
  stats: { framesIn: number; errors: Map<string, number> };
}

export function countError(ctx: Context, code: string): void {
  ctx.stats.errors.set(code, (ctx.stats.errors.get(code) ?? 0) + 1);
}
