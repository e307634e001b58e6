// The seam between the gateway's client listener (this folder) and the gateway proper (src/gateway/), which
// speaks to BusinessWorkers and GatewayClient: the listener hands every client event to a `GatewayEvents`, the
// gateway addresses clients through `GatewayConn`. Defined here, implemented there, so transports never import
// the gateway (docs/architecture.md, folder rules).
import type { Connection } from '../../core/connection.ts';

/** The transport name of every gateway client in the hub (stats, the connection API's `transport`). */
export const GATEWAY_TRANSPORT = 'gateway';

/** A worker link as a client sees it: events go to it while it is open. */
export interface WorkerRef {
  readonly open: boolean;
}

/** One client of the gateway listener: a hub connection plus the fields GatewayWorker's protocol needs. */
export interface GatewayConn extends Connection {
  /** The hub id (`ctx.nextSessionId()`), set by the gateway when the client arrives. */
  id: string;
  /** The connection id inside this gateway (the last 8 hex digits of its client_id); set by the gateway. */
  num: number;
  /** ip2long of the client's IPv4 (0 when not IPv4), and its TCP port: the event frames' header. */
  readonly clientIp: number;
  readonly clientPort: number;
  /** Sticky routing: the worker link this client's events go to; owned by the gateway. */
  worker: WorkerRef | undefined;
  /** Joined a group at least once: SELECT reports `groups` as null before, as a map after. */
  grouped: boolean;
  /** The heartbeat counter of §11.2: -1 after every client message, +1 per tick. */
  pingCount: number;
  /** Bytes of this client's messages given to its worker link that the worker has not read yet. */
  pending: number;
  /** Sends one message framed by the client protocol, or, raw, the bytes as they are. False when refused. */
  send(body: Buffer, raw: boolean): boolean;
  /** KICK: the optional last message, then the TCP connection ends without a WebSocket close frame. */
  kick(last: Buffer | undefined): void;
  /** DESTROY: drops the TCP connection at once, unsent data included. */
  destroy(): void;
}

/** What the gateway does with the listener's clients. Every method is called synchronously, in event order. */
export interface GatewayEvents {
  /** False while no worker is linked: the listener refuses the client (the original drops it at connect). */
  canAccept(): boolean;
  /** A new client: the gateway numbers it, adds it to the hub and sends ON_CONNECT. */
  opened(conn: GatewayConn): void;
  /** A WebSocket client's upgrade request, as the serialized get/server/cookie array (ON_WEBSOCKET_CONNECT). */
  websocketConnect(conn: GatewayConn, body: Buffer): void;
  /** One complete client message (ON_MESSAGE). */
  message(conn: GatewayConn, data: Buffer): void;
  /** The client is gone, whatever the cause (ON_CLOSE); the gateway removes it from the hub. */
  closed(conn: GatewayConn): void;
  /** The listener's real port (the events' `gateway_port`). */
  listening(publicPort: number): void;
}

/** Limits and behaviour the connections share (one object, so no connection holds its own copy). */
export interface GatewayHost {
  readonly events: GatewayEvents;
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;
}

/** The client's address in the event header: IPv4 (also IPv4-mapped IPv6) as ip2long, anything else 0. */
export function clientAddress(remoteAddress: string | undefined): number {
  if (remoteAddress === undefined) return 0;
  const v4 = remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
  const parts = v4.split('.');
  if (parts.length !== 4) return 0;
  let n = 0;
  for (const p of parts) {
    const o = Number(p);
    if (!/^[0-9]{1,3}$/.test(p) || o > 255) return 0;
    n = n * 256 + o;
  }
  return n;
}
