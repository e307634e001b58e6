import { z } from 'zod';
import { gatewayBound, type GatewayConfig } from './gateway.ts';

const port = z.number().int().min(0).max(65535);

/** One compatibility listener: off unless enabled (or turned on by `profile: workerman`). */
const listener = (defaultPort: number, defaultHost: string) =>
  z
    .object({
      enabled: z.boolean().default(false),
      host: z.string().min(1).default(defaultHost),
      port: port.default(defaultPort),
    })
    .strict()
    .prefault({});

/**
 * Options of the Workerman / web-msg-sender compatibility listeners (docs/migrating-from-workerman.md).
 * Everything is off unless enabled here or by `profile: workerman`. Client ports (websocket, socketio) bind all
 * interfaces by default, as the originals do; push ports (text, httpPush) bind 127.0.0.1, unlike the originals.
 */
export const CompatConfigSchema = z
  .object({
    /** Workerman `websocket://` port: a plain WebSocket whose first text frame is the uid (seeds 000, 001, 003). */
    websocket: listener(1234, '0.0.0.0'),
    /** Workerman `text://` push port: one JSON line with a `uid` field per push, answered `ok\n` / `fail\n`. */
    text: listener(5678, '127.0.0.1'),
    /** web-msg-sender Socket.IO port (Engine.IO v3 and v4 clients, polling and WebSocket). */
    socketio: z
      .object({
        enabled: z.boolean().default(false),
        host: z.string().min(1).default('0.0.0.0'),
        port: port.default(2120),
        /** Engine.IO path, as the client's `path` option (web-msg-sender: the default `/socket.io`). */
        path: z
          .string()
          .regex(/^\/\S*$/, 'must start with /')
          .default('/socket.io'),
        /**
         * Engine.IO handshakes one remote address may make per `handshakeWindowMs`; more are refused (403 with a
         * JSON reason). Bounds a client looping on its handshake. 0 = no bound. Behind a reverse proxy every
         * client has the proxy's address: raise it there.
         */
        maxHandshakesPerAddress: z.number().int().min(0).default(100),
        handshakeWindowMs: z.number().int().min(100).max(3_600_000).default(10_000),
        /** Sessions one address may hold that have not logged in; further handshakes are refused. 0 = no bound. */
        maxAnonymousPerAddress: z.number().int().min(0).default(100),
      })
      .strict()
      .prefault({}),
    /** web-msg-sender HTTP push API: `type=publish&to=&content=`, answered `ok` / `offline` / `fail`. */
    httpPush: listener(2121, '127.0.0.1'),
    /**
     * Shared secret the push ports (text, httpPush) require when set: a `secret` field in each text line, or a
     * `secret` parameter / `Authorization: Bearer <secret>` header on HTTP. Unset: anyone who reaches them may push.
     */
    secret: z.string().min(16, 'compat.secret must be at least 16 characters').optional(),
    /**
     * When true, `login` (Socket.IO) and the first frame (websocket) must be a token signed like native tokens
     * (`herald token <uid>`); a raw uid is refused. When false, both a raw uid and a token are accepted.
     */
    requireToken: z.boolean().default(false),
    /**
     * Origins allowed to use the client ports from a browser (`https://shop.example`, `https://*.example`, or `*`).
     * A request from another origin is refused and gets no Access-Control-Allow-Origin header. The default `*`
     * keeps the originals' behaviour (any origin).
     */
    corsOrigins: z.array(z.string().min(1)).default(['*']),
    /** PEM files: serve wss/https on the client ports; `pushPorts: true` also serves TLS on text and httpPush. */
    tls: z
      .object({
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        pushPorts: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** Escape `content` on httpPush like PHP 8's htmlspecialchars (the original does; pages insert it with .html()). */
    escapeHtml: z.boolean().default(true),
    /** Longest text-port line; a longer one closes only that connection (Workerman: 10 MiB; sends over 1 MiB dropped). */
    maxLineBytes: z
      .number()
      .int()
      .min(256)
      .default(1024 * 1024),
    /** Largest frame / Engine.IO message a client may send on the client ports. */
    maxClientMessageBytes: z
      .number()
      .int()
      .min(256)
      .default(64 * 1024),
    /** Time a connection gets to finish its HTTP / WebSocket / Socket.IO handshake, and a websocket its first frame. */
    handshakeTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    /** How often `update_online_count` is considered (sent only when a count changed), as in the original. */
    onlineCountIntervalMs: z.number().int().min(100).max(60_000).default(1000),
  })
  .strict();
export type CompatConfig = z.infer<typeof CompatConfigSchema>;
export type CompatListenerName = 'websocket' | 'text' | 'socketio' | 'httpPush';
export const COMPAT_LISTENERS: readonly CompatListenerName[] = ['websocket', 'text', 'socketio', 'httpPush'];

/**
 * Defaults a profile brings, merged *under* the config file, env and flags (so each can still be overridden).
 * `workerman` opens the seeds' topology: 1234 (websocket), 5678 (text), 2120 (Socket.IO), 2121 (HTTP push).
 * Herald's own line port also defaults to 5678, so the profile moves it to 5679. `swoole` opens the plain
 * WebSocket listener on 9501.
 */
export const PROFILE_DEFAULTS: Record<'workerman' | 'swoole' | 'gatewayworker', Record<string, unknown>> = {
  workerman: {
    line: { port: 5679 },
    compat: {
      websocket: { enabled: true },
      text: { enabled: true },
      socketio: { enabled: true },
      httpPush: { enabled: true },
    },
  },
  swoole: { swoole: { enabled: true } },
  /** The Register (1236), the inner port and the client listener of a GatewayWorker app (config/gateway.ts). */
  gatewayworker: { gateway: { enabled: true } },
};

interface Bound {
  name: string;
  host: string;
  port: number;
}

function sameInterface(a: string, b: string): boolean {
  const wild = (h: string) => h === '0.0.0.0' || h === '::';
  return a === b || wild(a) || wild(b);
}

/** Contradictions involving compat listeners (port clashes etc.), as messages; empty when consistent. */
export function compatContradictions(config: {
  host: string;
  port: number;
  line: { enabled: boolean; host: string; port: number };
  compat: CompatConfig;
  swoole?: { enabled: boolean; host: string; port: number };
  gateway?: GatewayConfig;
}): string[] {
  const out: string[] = [];
  const c = config.compat;
  const bound: Bound[] = [{ name: 'HTTP (port)', host: config.host, port: config.port }];
  if (config.line.enabled) bound.push({ name: 'the line port (line.port)', host: config.line.host, port: config.line.port });
  for (const name of COMPAT_LISTENERS) {
    const l = c[name];
    if (l.enabled) bound.push({ name: `compat.${name}`, host: l.host, port: l.port });
  }
  if (config.swoole?.enabled === true) bound.push({ name: 'swoole (swoole.port)', host: config.swoole.host, port: config.swoole.port });
  if (config.gateway !== undefined) bound.push(...gatewayBound(config.gateway));
  for (let i = 0; i < bound.length; i++) {
    for (let j = i + 1; j < bound.length; j++) {
      const a = bound[i]!;
      const b = bound[j]!;
      if (a.port !== 0 && a.port === b.port && sameInterface(a.host, b.host)) {
        const hint = a.name.startsWith('the line port') && b.name === 'compat.text' ? ' (with profile workerman the line port defaults to 5679)' : '';
        out.push(`port ${a.port} is configured for both ${a.name} and ${b.name}; give them different ports${hint}`);
      }
    }
  }
  if ((c.tls.cert === undefined) !== (c.tls.key === undefined)) {
    out.push('compat.tls needs both cert and key (PEM file paths), or neither');
  }
  if (c.tls.pushPorts && c.tls.cert === undefined) out.push('compat.tls.pushPorts is set but compat.tls.cert/key are not');
  return out;
}
