import type { Context } from '../context.ts';
import type { PublishRequest } from '../core/dispatcher.ts';
import type { Hub } from '../core/hub.ts';
import { Cmd, encodeFrame, Flag, ipToLong, isCommand, QUERY_COMMANDS, type CmdNumber, type GatewayFrame } from '../protocol/gatewayworker/index.ts';
import { jsonToSession } from '../protocol/php/index.ts';
import type { GatewayConn, GatewayEvents } from '../transports/gateway/types.ts';
import { applyCommand, storedPublish } from './commands.ts';
import { InnerLink, type LinkHost } from './link.ts';
import { answerQuery } from './queries.ts';
import type { GatewayState } from './state.ts';

const EMPTY = Buffer.alloc(0);
/** The original's connection-id counter wraps after 2^32 - 1 (0 is never issued). */
const MAX_CONNECTION_ID = 0xffffffff;

/**
 * The gateway proper: this process's GatewayWorker clients by connection id, the worker links events go to
 * (sticky, least connections, §9.4), and every command and query from workers and GatewayClient. One gateway per
 * Herald node; its inner address is `lanIp:innerPort` and its clients' ids are numbered from 1 (§4).
 */
export class Gateway implements GatewayEvents, LinkHost, GatewayState {
  readonly hub: Hub;
  readonly clients = new Map<number, GatewayConn>();
  readonly workers = new Map<string, InnerLink>();
  readonly links = new Set<InnerLink>();
  readonly maxGroups: number;
  readonly open: boolean;
  private readonly lanIp: number;
  innerPort = 0;
  private publicPort = 0;
  private counter = 0;
  private readonly secret: string;
  private readonly maxPending: number;

  constructor(private readonly ctx: Context) {
    const cfg = ctx.config.gateway;
    this.hub = ctx.hub;
    this.maxGroups = ctx.config.limits.maxChannelsPerConnection;
    this.secret = cfg.secret;
    this.open = cfg.secret === '';
    this.lanIp = ipToLong(cfg.lanIp) ?? 0;
    this.maxPending = cfg.maxPendingBytesPerClient;
  }

  get log(): Context['log'] {
    return this.ctx.log;
  }

  /** The address announced by the Register and encoded in every client_id. */
  get address(): string {
    return `${this.ctx.config.gateway.lanIp}:${this.innerPort}`;
  }

  // ---- GatewayEvents: the client listener ----

  canAccept(): boolean {
    return this.workers.size > 0;
  }

  listening(publicPort: number): void {
    this.publicPort = publicPort;
  }

  opened(conn: GatewayConn): void {
    conn.num = this.nextNum();
    conn.id = this.ctx.nextSessionId();
    this.clients.set(conn.num, conn);
    this.hub.add(conn);
    this.forward(conn, Cmd.ON_CONNECT, EMPTY, Flag.BODY_IS_SCALAR);
  }

  websocketConnect(conn: GatewayConn, body: Buffer): void {
    this.forward(conn, Cmd.ON_WEBSOCKET_CONNECT, body, 0);
  }

  message(conn: GatewayConn, data: Buffer): void {
    this.ctx.stats.framesIn++;
    const link = conn.worker as InnerLink | undefined;
    if (link !== undefined && link.open) {
      link.settle();
      if (conn.pending > this.maxPending) {
        this.log.warn({ client: conn.num, pending: conn.pending }, 'gateway: a client sends faster than its BusinessWorker reads; closed');
        conn.close(1008, 'backend not reading');
        return;
      }
    }
    this.forward(conn, Cmd.ON_MESSAGE, data, Flag.BODY_IS_SCALAR, true);
  }

  closed(conn: GatewayConn): void {
    if (this.clients.get(conn.num) !== conn) return;
    this.forward(conn, Cmd.ON_CLOSE, EMPTY, Flag.BODY_IS_SCALAR);
    const link = conn.worker as InnerLink | undefined;
    if (link !== undefined) link.load--;
    conn.worker = undefined;
    this.hub.remove(conn);
    this.clients.delete(conn.num);
  }

  // ---- LinkHost: the inner port ----

  storedPublish(frame: GatewayFrame): PublishRequest | undefined {
    // With several nodes every Register lists every node's gateway, and a GatewayClient or worker sends a fan-out
    // command to each of them (each answers for its own clients): so each node delivers to its own clients, as
    // the original's gateways do, and a stored publish (which reaches every node) would deliver it N times.
    if (this.ctx.broker.deliversAll) return undefined;
    return storedPublish(frame);
  }

  publish(req: PublishRequest): Promise<unknown> {
    return this.ctx.dispatcher.publish(req);
  }

  handle(link: InnerLink, frame: GatewayFrame): void {
    const { cmd } = frame;
    if (cmd === Cmd.WORKER_CONNECT) return this.workerConnect(link, frame);
    if (cmd === Cmd.GATEWAY_CLIENT_CONNECT) return this.clientConnect(link, frame);
    if (!isCommand(cmd)) {
      this.log.debug({ cmd }, 'gateway: unknown command ignored');
      return;
    }
    if (QUERY_COMMANDS.has(cmd as CmdNumber)) {
      const payload = answerQuery(this, frame);
      if (payload !== undefined) link.reply(payload);
      return;
    }
    applyCommand(this, frame);
  }

  linkClosed(link: InnerLink): void {
    this.links.delete(link);
    if (link.workerKey !== undefined && this.workers.get(link.workerKey) === link) {
      this.workers.delete(link.workerKey);
      this.log.info({ worker: link.workerKey }, 'gateway: BusinessWorker link closed');
    }
  }

  /** A new inner connection (worker link, query link or GatewayClient call). */
  accept(link: InnerLink): void {
    this.links.add(link);
  }

  // ---- GatewayState ----

  sessionBytes(conn: GatewayConn): Buffer {
    const s = this.hub.session(conn);
    if (s === undefined) return EMPTY;
    if ('php' in s) return Buffer.from(s.php, 'latin1');
    // A session set as JSON through the HTTP API reaches workers as the array json_decode would give them.
    try {
      return jsonToSession(s.json as Parameters<typeof jsonToSession>[0]);
    } catch {
      return EMPTY;
    }
  }

  /** Sends PING (201) on every worker link; the original does so every 25 s when lanIp is not 127.0.0.1. */
  pingWorkers(): void {
    const ping = encodeFrame({ cmd: Cmd.PING, flag: Flag.BODY_IS_SCALAR });
    for (const w of this.workers.values()) w.write(ping);
  }

  // ---- internals ----

  private workerConnect(link: InnerLink, frame: GatewayFrame): void {
    const body = parseJsonObject(frame.body);
    if (body === undefined || body.secret_key !== this.secret || typeof body.worker_key !== 'string') {
      this.log.warn({ peer: link.remoteIp }, 'gateway: WORKER_CONNECT refused (wrong secret_key or bad body)');
      link.close();
      return;
    }
    link.authorized = true;
    const key = `${link.remoteIp}:${body.worker_key}`;
    const old = this.workers.get(key);
    if (old !== undefined && old !== link) old.close();
    link.workerKey = key;
    this.workers.set(key, link);
    this.log.info({ worker: key }, 'gateway: BusinessWorker linked');
  }

  private clientConnect(link: InnerLink, frame: GatewayFrame): void {
    const body = parseJsonObject(frame.body);
    if (body === undefined || body.secret_key !== this.secret) {
      this.log.warn({ peer: link.remoteIp }, 'gateway: GATEWAY_CLIENT_CONNECT refused (wrong secret_key)');
      link.close();
      return;
    }
    link.authorized = true;
  }

  /** Least connections, first in link order on ties (§9.4). */
  private pick(): InnerLink | undefined {
    let best: InnerLink | undefined;
    for (const w of this.workers.values()) if (w.open && (best === undefined || w.load < best.load)) best = w;
    return best;
  }

  private forward(conn: GatewayConn, cmd: number, body: Buffer, flag: number, tracked = false): void {
    let link = conn.worker as InnerLink | undefined;
    if (link === undefined || !link.open) {
      link = this.pick();
      conn.worker = link;
      if (link === undefined) {
        // §9.1: with no worker to tell, the original destroys the client at once.
        if (cmd !== Cmd.ON_CLOSE) conn.destroy();
        return;
      }
      link.load++;
    }
    const frame = encodeFrame({
      cmd,
      localIp: this.lanIp,
      localPort: this.innerPort,
      clientIp: conn.clientIp,
      clientPort: conn.clientPort,
      connectionId: conn.num,
      flag,
      gatewayPort: this.publicPort,
      extData: this.sessionBytes(conn),
      body,
    });
    link.write(frame, tracked ? conn : undefined);
  }

  private nextNum(): number {
    for (;;) {
      this.counter = this.counter >= MAX_CONNECTION_ID ? 1 : this.counter + 1;
      if (!this.clients.has(this.counter)) return this.counter;
    }
  }
}

function parseJsonObject(b: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(b.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
