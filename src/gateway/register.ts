import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { broadcastAddressesLine, LineReader, parseRegisterLine, REGISTER_ERROR_LINE } from '../protocol/gatewayworker/index.ts';

/** A connection that sends no line within this time is closed, unanswered (§2 step 1). */
const FIRST_LINE_MS = 10_000;

/**
 * The Register (§2): workers and GatewayClient ask it for the gateways' inner addresses. Herald's own gateway is
 * always listed first; gateways of the original that register here (`gateway_connect`) are listed after it, so a
 * mixed deployment keeps working while it moves over.
 */
export class Register {
  private readonly server: Server;
  private readonly workers = new Set<Socket>();
  private readonly gateways = new Map<Socket, string>();
  private readonly sockets = new Set<Socket>();
  /** The other Herald nodes' gateways (with Redis), as last learned; sorted, so every Register lists them alike. */
  private cluster: string[] = [];

  constructor(
    private readonly log: Logger,
    private readonly secret: string,
    /** This node's gateway address, once its inner port is bound. */
    private readonly own: () => string | undefined,
  ) {
    this.server = createServer((s) => this.accept(s));
    this.server.on('error', (err) => log.error({ err }, 'gateway register error'));
  }

  get net(): Server {
    return this.server;
  }

  /** Every registered address, de-duplicated, in registration order (ours first). */
  addresses(): string[] {
    const out = new Set<string>();
    const own = this.own();
    if (own !== undefined) out.add(own);
    for (const a of this.cluster) out.add(a);
    for (const a of this.gateways.values()) out.add(a);
    return [...out];
  }

  /** The other nodes' gateways changed: workers are told, as when a gateway registers here. */
  setCluster(addresses: readonly string[]): void {
    const next = [...addresses].sort();
    if (next.length === this.cluster.length && next.every((a, i) => a === this.cluster[i])) return;
    this.cluster = next;
    this.announce();
  }

  /** Pushes the current list to every worker (a gateway came or went). */
  announce(): void {
    const line = broadcastAddressesLine(this.addresses());
    for (const w of this.workers) w.write(line);
  }

  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }

  private accept(s: Socket): void {
    this.sockets.add(s);
    const reader = new LineReader();
    let timer: NodeJS.Timeout | undefined = setTimeout(() => s.destroy(), FIRST_LINE_MS);
    timer.unref();
    s.on('error', () => s.destroy());
    s.on('close', () => {
      if (timer !== undefined) clearTimeout(timer);
      this.sockets.delete(s);
      this.workers.delete(s);
      if (this.gateways.delete(s)) this.announce();
    });
    s.on('data', (chunk: Buffer) => {
      const { lines, error } = reader.push(chunk);
      for (const line of lines) {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        if (!this.line(s, line)) return;
      }
      if (error !== undefined) s.destroy();
    });
  }

  /** Applies one line; false once the connection is being closed. */
  private line(s: Socket, line: Buffer): boolean {
    const res = parseRegisterLine(line);
    if (!res.ok) {
      if (res.refusal === 'bad_request') s.end(REGISTER_ERROR_LINE);
      else s.destroy();
      this.log.info({ refusal: res.refusal, event: res.event }, 'gateway register: request refused');
      return false;
    }
    const m = res.message;
    switch (m.event) {
      case 'ping':
        return true;
      case 'worker_connect':
        if (m.secretKey !== this.secret) return this.refuse(s, 'worker_connect');
        this.workers.add(s);
        s.write(broadcastAddressesLine(this.addresses()));
        return true;
      case 'gateway_connect':
        if (m.secretKey !== this.secret) return this.refuse(s, 'gateway_connect');
        this.gateways.set(s, m.address);
        this.announce();
        return true;
      default:
        s.destroy();
        return false;
    }
  }

  private refuse(s: Socket, event: string): false {
    this.log.warn({ event, peer: s.remoteAddress }, 'gateway register: wrong secret_key, connection closed');
    s.destroy();
    return false;
  }
}
