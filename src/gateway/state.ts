import type { Logger } from 'pino';
import type { Hub } from '../core/hub.ts';
import type { GatewayConn } from '../transports/gateway/types.ts';

/** What commands and queries read and change: this gateway's clients, by connection id, and the hub. */
export interface GatewayState {
  readonly hub: Hub;
  readonly log: Logger;
  /** Every client of this gateway by its connection id, in connect order. */
  readonly clients: ReadonlyMap<number, GatewayConn>;
  /** Groups one client may be in (limits.maxChannelsPerConnection). */
  readonly maxGroups: number;
  /** The client's session bytes as GatewayWorker stores them (empty when none). */
  sessionBytes(conn: GatewayConn): Buffer;
}
