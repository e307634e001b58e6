import { z } from 'zod';

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const HOST_PORT = /^(.+):([0-9]{1,5})$/;
const LISTEN = /^(websocket|text):\/\/(.+):([0-9]{1,5})$/i;

const hostPort = z.string().refine((s) => {
  const m = HOST_PORT.exec(s);
  return m !== null && Number(m[2]) <= 65535;
}, 'must be host:port');

/**
 * GatewayWorker mode (docs/migrating-from-gatewayworker.md): Herald plays the Register and the Gateway for an
 * unchanged BusinessWorker and GatewayClient. Off unless enabled here or by `profile: gatewayworker`. Durations are
 * in seconds, as in the original's start_gateway.php.
 */
export const GatewayConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** The Register's address (`$register->...`, `registerAddress` of workers and GatewayClient). */
    register: hostPort.default('127.0.0.1:1236'),
    /** The client listener: `websocket://host:port` or `text://host:port` (newline-delimited text). */
    listen: z
      .string()
      .refine((s) => {
        const m = LISTEN.exec(s);
        return m !== null && Number(m[3]) <= 65535;
      }, 'must be websocket://host:port or text://host:port')
      .default('websocket://0.0.0.0:8282'),
    /** The address workers and GatewayClient reach the inner port on; it is in every client_id, so IPv4 only. */
    lanIp: z.string().regex(IPV4, 'must be a dotted-quad IPv4 address (it is encoded in every client_id)').default('127.0.0.1'),
    /** The inner port (the original's `startPort`, default 2000; one gateway per node, so no `+ i`). */
    startPort: z.number().int().min(0).max(65535).default(2000),
    /** Seconds between heartbeat ticks (0: none), as the original's pingInterval. */
    pingInterval: z.number().min(0).max(86_400).default(0),
    /** Text sent to idle clients on heartbeat ticks ('' sends nothing). */
    pingData: z.string().default(''),
    /** Missed intervals before an idle client is dropped (0: never). */
    pingNotResponseLimit: z.number().int().min(0).max(1000).default(0),
    /** The secretKey of the Register, the gateway and every worker and GatewayClient ('' = none, as the original). */
    secret: z.string().default(''),
    /** Largest message a client may send (the original's 10 MB package limit); larger closes it. */
    maxMessageBytes: z
      .number()
      .int()
      .min(256)
      .default(10 * 1024 * 1024),
    /**
     * Bytes of one client's messages that may wait unread by its worker. A client that sends more than its worker
     * reads is closed (WebSocket 1008 "backend not reading") when a new message arrives past this bound.
     */
    maxPendingBytesPerClient: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024),
  })
  .strict();
export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

export interface GatewayListen {
  protocol: 'websocket' | 'text';
  host: string;
  port: number;
}

export function parseGatewayListen(s: string): GatewayListen {
  const m = LISTEN.exec(s);
  if (m === null) throw new TypeError(`bad gateway listen address ${s}`);
  return { protocol: m[1]!.toLowerCase() as 'websocket' | 'text', host: m[2]!, port: Number(m[3]) };
}

export function parseHostPort(s: string): { host: string; port: number } {
  const m = HOST_PORT.exec(s);
  if (m === null) throw new TypeError(`bad host:port ${s}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** The listeners gateway mode binds, for the port-clash checks. */
export function gatewayBound(g: GatewayConfig): { name: string; host: string; port: number }[] {
  if (!g.enabled) return [];
  const l = parseGatewayListen(g.listen);
  const r = parseHostPort(g.register);
  return [
    { name: 'gateway.listen', host: l.host, port: l.port },
    { name: 'gateway.register', host: r.host, port: r.port },
    { name: 'gateway.startPort (the inner port)', host: g.lanIp, port: g.startPort },
  ];
}

const isLoopback = (h: string): boolean => h === 'localhost' || h === '::1' || h.startsWith('127.');

/** The startup warnings of gateway mode: backend ports reachable beyond this machine without a secret. */
export function gatewayWarnings(g: GatewayConfig): string[] {
  if (!g.enabled || g.secret !== '') return [];
  const out: string[] = [];
  const r = parseHostPort(g.register);
  if (!isLoopback(r.host)) {
    out.push(
      `gateway.register (${g.register}) listens beyond loopback without gateway.secret: anyone who reaches it learns the inner address; set HERALD_GATEWAY_SECRET (and secretKey in your BusinessWorker and GatewayClient)`,
    );
  }
  if (!isLoopback(g.lanIp)) {
    out.push(
      `the gateway's inner port (${g.lanIp}:${g.startPort}) listens beyond loopback without gateway.secret: anyone who reaches it can send to, read the sessions of and close every client; set HERALD_GATEWAY_SECRET`,
    );
  }
  return out;
}
