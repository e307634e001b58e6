import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { compatContradictions, CompatConfigSchema, PROFILE_DEFAULTS } from './config/compat.ts';
import { SwooleConfigSchema } from './config/swoole.ts';
import { GatewayConfigSchema } from './config/gateway.ts';
import { pusherAppFromEnv, PusherConfigSchema } from './config/pusher.ts';

const port = z.number().int().min(0).max(65535);
const hostPort = z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'must be host:port');
const hostPorts = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x !== '')
      : v,
  z.array(hostPort).min(1),
);
const level = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Every option Herald has, with its default. The config file holds exactly this shape (unknown keys are errors). */
export const ConfigSchema = z
  .object({
    host: z.string().min(1).default('0.0.0.0'),
    port: port.default(8080),
    dataDir: z.string().min(1).default('./data'),
    apiKey: z.string().min(16, 'apiKey must be at least 16 characters').optional(),
    tokenSecret: z.string().min(32, 'tokenSecret must be at least 32 characters (HS256 needs a 256-bit key)').optional(),
    logLevel: level.default('info'),
    /** Dev mode: the demo page may ask for tokens (loopback clients only). Never in production. */
    dev: z.boolean().default(false),
    heartbeatMs: z.number().int().min(1000).max(300_000).default(25_000),
    authTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    shutdownTimeoutMs: z.number().int().min(0).max(120_000).default(5_000),
    line: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(5678),
        /** Lets loopback peers use the line port without the API key. Off by default. */
        allowLoopbackWithoutKey: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        /**
         * The publish fast lane on the main port (src/api/http/fast-lane.ts). Off: every request goes through
         * Node's HTTP server (slower publishing, same answers); the bench compares the two.
         */
        fastLane: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        maxFrameBytes: z
          .number()
          .int()
          .min(256)
          .default(64 * 1024),
        maxBodyBytes: z
          .number()
          .int()
          .min(256)
          .default(1024 * 1024),
        maxLineBytes: z
          .number()
          .int()
          .min(256)
          .default(1024 * 1024),
        maxChannelsPerConnection: z.number().int().min(1).default(128),
        /** Bytes queued for one connection before it is closed as a slow consumer. */
        maxBufferedBytes: z
          .number()
          .int()
          .min(1024)
          .default(4 * 1024 * 1024),
        maxPendingSends: z.number().int().min(1).default(32),
        maxBatch: z.number().int().min(1).default(1000),
        /** Upper bound for a publish's `waitMs` (delivery receipt). */
        maxReceiptWaitMs: z.number().int().min(1).max(120_000).default(30_000),
        /**
         * Reconnections per second a node is sized to take in (handshake, token, resume): on shutdown each native
         * client is told to come back at a random moment within `clients / rate` seconds (the `shutdown` frame), so
         * a restart is not followed by every client at once.
         */
        reconnectRatePerSecond: z.number().int().min(100).max(1_000_000).default(3000),
      })
      .strict()
      .prefault({}),
    webhook: z
      .object({
        url: z.url().optional(),
        /** HMAC key for the X-Herald-Signature header; defaults to the API key. */
        secret: z.string().min(16).optional(),
        timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
        /** Connection lifecycle events posted to the webhook besides upstream messages. */
        events: z.array(z.enum(['connect', 'disconnect'])).default([]),
      })
      .strict()
      .prefault({}),
    /**
     * `workerman` turns on the Workerman / web-msg-sender listeners on the seeds' ports (docs/migrating-from-workerman.md);
     * `swoole` the plain WebSocket listener on 9501 (docs/migrating-from-swoole.md), `gatewayworker` the Register and
     * Gateway of a GatewayWorker app (docs/migrating-from-gatewayworker.md).
     */
    profile: z.enum(['workerman', 'swoole', 'gatewayworker']).optional(),
    compat: CompatConfigSchema.prefault({}),
    swoole: SwooleConfigSchema.prefault({}),
    gateway: GatewayConfigSchema.prefault({}),
    /** The Pusher protocol on the main port (docs/pusher.md): off while no app is configured. */
    pusher: PusherConfigSchema.prefault({}),
    /** Scale-out: with a URL, history, presence and fan-out between nodes go through this Redis (docs/scaling.md). */
    redis: z
      .object({
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
          .optional(),
        /**
         * Redis Cluster seed nodes (`host:port`; a comma-separated string from the environment). Exclusive with `url`
         * and `sentinels`.
         */
        cluster: hostPorts.optional(),
        /** Sentinels (`host:port`) watching the master named `sentinelName`. Exclusive with `url` and `cluster`. */
        sentinels: hostPorts.optional(),
        sentinelName: z.string().min(1).default('mymaster'),
        /** Key and channel prefix, so several installations can share one Redis. */
        prefix: z
          .string()
          .min(1)
          .max(64)
          // Keys are `<prefix>{<stream>}...`: a brace in the prefix would move the hash tag, and a stream's keys apart.
          .regex(/^[^{}]*$/, 'must not contain { or }')
          .default('herald:'),
        /** Presence heartbeat; a node silent for 3 intervals stops counting. */
        presenceHeartbeatMs: z.number().int().min(100).max(60_000).default(2000),
        /** How long a connection-addressed call waits for the node holding the connection (then 503). */
        controlTimeoutMs: z.number().int().min(50).max(60_000).default(2000),
        /**
         * The failover fence (docs/guarantees.md, "Redis failover"): a publish is acknowledged, and announced to the
         * nodes, only once this many replicas hold it (`WAIT`). Unset: 1 with `sentinels` (a master crash then loses no
         * acknowledged publish), 1 with `cluster` when every master has a replica at startup (else 0, said in the log),
         * 0 (no WAIT) with one server. Set it to the number of replicas to survive a planned `SENTINEL FAILOVER` (or
         * `CLUSTER FAILOVER`) too, at the cost of refusing publishes while any replica is away.
         */
        waitReplicas: z.number().int().min(0).max(16).optional(),
        /** How long a publish waits for those replicas; then it is answered 503 (retry with the same idempotencyKey). */
        waitTimeoutMs: z.number().int().min(10).max(60_000).default(1000),
      })
      .strict()
      .refine((r) => [r.url, r.cluster, r.sentinels].filter((x) => x !== undefined).length <= 1, {
        message: 'set one of redis.url, redis.cluster and redis.sentinels',
      })
      .prefault({}),
    /** Where history, inbox positions and idempotency records live (with `redis.url`: Redis, whatever this says). */
    store: z
      .object({
        type: z.enum(['sqlite', 'memory']).default('sqlite'),
        /** SQLite file; default `<dataDir>/herald.db`. */
        file: z.string().min(1).optional(),
        /** `normal`: survives kill -9 of Herald. `full`: fsync per commit, survives power loss (slower). */
        fsync: z.enum(['normal', 'full']).default('normal'),
        /**
         * SQLite: appends go to an append-only log, copied into the indexed table once this many are there (they are
         * read from memory until then: about 100 bytes each plus the message). See docs/performance.md.
         */
        indexAfterRows: z.number().int().min(1).max(1_000_000).default(65_536),
      })
      .strict()
      .prefault({}),
    history: z
      .object({
        channelMaxCount: z.number().int().min(1).default(1000),
        channelMaxAgeMs: z
          .number()
          .int()
          .min(1000)
          .default(24 * 3600_000),
        userMaxCount: z.number().int().min(1).default(10_000),
        userMaxAgeMs: z
          .number()
          .int()
          .min(1000)
          .default(7 * 24 * 3600_000),
        /** Per-channel retention: first rule whose pattern matches the channel (or `broadcast`) wins. */
        rules: z
          .array(
            z.object({ pattern: z.string().min(1), maxCount: z.number().int().min(1).optional(), maxAgeMs: z.number().int().min(1000).optional() }).strict(),
          )
          .default([]),
      })
      .strict()
      .prefault({}),
    idempotency: z
      .object({
        windowMs: z
          .number()
          .int()
          .min(1000)
          .default(24 * 3600_000),
      })
      .strict()
      .prefault({}),
    /** The live-list demo at `/` (src/demo/): its own SQLite file `<dataDir>/demo.db`. Unset: on exactly when `dev` is. */
    demo: z.object({ enabled: z.boolean().optional() }).strict().prefault({}),
  })
  .strict();

export type HeraldConfig = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Whether Herald keeps its state in Redis (one server, a Cluster or a Sentinel-watched master) rather than in-process. */
export function usesRedis(config: HeraldConfig): boolean {
  const r = config.redis;
  return r.url !== undefined || r.cluster !== undefined || r.sentinels !== undefined;
}

/** How many replicas must hold a publish before it is acknowledged (`redis.waitReplicas` and its default). */
export function waitReplicas(config: HeraldConfig): number {
  return config.redis.waitReplicas ?? (config.redis.sentinels !== undefined || config.redis.cluster !== undefined ? 1 : 0);
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

const ENV: Record<string, { path: string[]; type: 'string' | 'number' | 'boolean' }> = {
  HERALD_HOST: { path: ['host'], type: 'string' },
  HERALD_PORT: { path: ['port'], type: 'number' },
  HERALD_API_KEY: { path: ['apiKey'], type: 'string' },
  HERALD_TOKEN_SECRET: { path: ['tokenSecret'], type: 'string' },
  HERALD_DATA_DIR: { path: ['dataDir'], type: 'string' },
  HERALD_LOG_LEVEL: { path: ['logLevel'], type: 'string' },
  HERALD_DEV: { path: ['dev'], type: 'boolean' },
  HERALD_PROFILE: { path: ['profile'], type: 'string' },
  HERALD_STORE: { path: ['store', 'type'], type: 'string' },
  HERALD_REDIS_URL: { path: ['redis', 'url'], type: 'string' },
  HERALD_REDIS_PREFIX: { path: ['redis', 'prefix'], type: 'string' },
  HERALD_REDIS_CLUSTER: { path: ['redis', 'cluster'], type: 'string' },
  HERALD_REDIS_SENTINELS: { path: ['redis', 'sentinels'], type: 'string' },
  HERALD_REDIS_SENTINEL_NAME: { path: ['redis', 'sentinelName'], type: 'string' },
  HERALD_REDIS_WAIT_REPLICAS: { path: ['redis', 'waitReplicas'], type: 'number' },
  HERALD_REDIS_WAIT_TIMEOUT_MS: { path: ['redis', 'waitTimeoutMs'], type: 'number' },
  HERALD_STORE_FSYNC: { path: ['store', 'fsync'], type: 'string' },
  HERALD_STORE_INDEX_AFTER_ROWS: { path: ['store', 'indexAfterRows'], type: 'number' },
  HERALD_LINE_PORT: { path: ['line', 'port'], type: 'number' },
  HERALD_LINE_HOST: { path: ['line', 'host'], type: 'string' },
  HERALD_WEBHOOK_URL: { path: ['webhook', 'url'], type: 'string' },
  HERALD_WEBHOOK_SECRET: { path: ['webhook', 'secret'], type: 'string' },
  HERALD_SWOOLE_HOST: { path: ['swoole', 'host'], type: 'string' },
  HERALD_SWOOLE_PORT: { path: ['swoole', 'port'], type: 'number' },
  HERALD_SWOOLE_REQUIRE_TOKEN: { path: ['swoole', 'requireToken'], type: 'boolean' },
  HERALD_GATEWAY_REGISTER: { path: ['gateway', 'register'], type: 'string' },
  HERALD_GATEWAY_LISTEN: { path: ['gateway', 'listen'], type: 'string' },
  HERALD_GATEWAY_LAN_IP: { path: ['gateway', 'lanIp'], type: 'string' },
  HERALD_GATEWAY_START_PORT: { path: ['gateway', 'startPort'], type: 'number' },
  HERALD_GATEWAY_PING_INTERVAL: { path: ['gateway', 'pingInterval'], type: 'number' },
  HERALD_GATEWAY_PING_DATA: { path: ['gateway', 'pingData'], type: 'string' },
  HERALD_GATEWAY_PING_NOT_RESPONSE_LIMIT: { path: ['gateway', 'pingNotResponseLimit'], type: 'number' },
  HERALD_GATEWAY_SECRET: { path: ['gateway', 'secret'], type: 'string' },
};

/** CLI flags of `herald start`, mapped onto config paths. */
export const FLAGS: Record<string, { path: string[]; type: 'string' | 'number' | 'boolean' }> = {
  host: { path: ['host'], type: 'string' },
  port: { path: ['port'], type: 'number' },
  'data-dir': { path: ['dataDir'], type: 'string' },
  'log-level': { path: ['logLevel'], type: 'string' },
  'line-port': { path: ['line', 'port'], type: 'number' },
  'line-host': { path: ['line', 'host'], type: 'string' },
  dev: { path: ['dev'], type: 'boolean' },
  profile: { path: ['profile'], type: 'string' },
  'redis-url': { path: ['redis', 'url'], type: 'string' },
  'webhook-url': { path: ['webhook', 'url'], type: 'string' },
};

function coerce(name: string, raw: string | boolean, type: 'string' | 'number' | 'boolean'): unknown {
  if (type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new ConfigError(`${name}: expected a boolean (true/false), got ${JSON.stringify(raw)}`);
  }
  if (type === 'number') {
    const n = Number(raw);
    if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) {
      throw new ConfigError(`${name}: expected a number, got ${JSON.stringify(raw)}`);
    }
    return n;
  }
  return String(raw);
}

function setPath(target: Json, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Json;
  }
  node[path[path.length - 1]!] = value;
}

function mergeDeep(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(v) && isPlainObject(b) ? mergeDeep(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface ConfigSources {
  /** Explicit `--config FILE`; when absent, `herald.json` in cwd is used if it exists; `false`: no file (the library). */
  configFile?: string | false;
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, string | boolean>;
  cwd?: string;
  /** Programmatic overrides (tests, embedding); applied last. */
  overrides?: ConfigInput;
}

/** Resolves the configuration: defaults < config file < HERALD_* environment < CLI flags < overrides. */
export function loadConfig(src: ConfigSources = {}): HeraldConfig {
  const cwd = src.cwd ?? process.cwd();
  let merged: Json = {};
  const file = src.configFile === false ? undefined : resolve(cwd, src.configFile ?? 'herald.json');
  if (file !== undefined && src.configFile !== undefined && !existsSync(file)) throw new ConfigError(`config file not found: ${file}`);
  if (file !== undefined && existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (!isPlainObject(parsed)) throw new ConfigError(`config file ${file} must hold a JSON object`);
    merged = mergeDeep(merged, parsed);
  }
  const fromEnv: Json = {};
  for (const [name, spec] of Object.entries(ENV)) {
    const raw = (src.env ?? process.env)[name];
    if (raw !== undefined && raw !== '') setPath(fromEnv, spec.path, coerce(name, raw, spec.type));
  }
  // The env app replaces the file's list: arrays do not merge, and one app is what the env can describe.
  const envApp = pusherAppFromEnv(src.env ?? process.env);
  if (envApp.error !== undefined) throw new ConfigError(envApp.error);
  if (envApp.app !== undefined) setPath(fromEnv, ['pusher', 'apps'], [envApp.app]);
  merged = mergeDeep(merged, fromEnv);
  const fromFlags: Json = {};
  for (const [name, raw] of Object.entries(src.flags ?? {})) {
    const spec = FLAGS[name];
    if (spec === undefined) throw new ConfigError(`unknown option --${name}`);
    setPath(fromFlags, spec.path, coerce(`--${name}`, raw, spec.type));
  }
  merged = mergeDeep(merged, fromFlags);
  if (src.overrides) merged = mergeDeep(merged, src.overrides as Json);
  const profile = merged.profile;
  if (typeof profile === 'string' && Object.hasOwn(PROFILE_DEFAULTS, profile)) {
    merged = mergeDeep(PROFILE_DEFAULTS[profile as keyof typeof PROFILE_DEFAULTS], merged);
  }
  return validate(merged);
}

export function validate(input: unknown): HeraldConfig {
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  // Contradictions that each value alone cannot show.
  if (c.line.enabled && c.port !== 0 && c.port === c.line.port && sameInterface(c.host, c.line.host)) {
    throw new ConfigError(`port ${c.port} is configured for both HTTP and the line port; give them different ports`);
  }
  const clashes = compatContradictions(c);
  if (clashes.length > 0) throw new ConfigError(clashes.join('\n'));
  if (c.webhook.events.length > 0 && c.webhook.url === undefined) {
    throw new ConfigError('webhook.events is set but webhook.url is not: events would have nowhere to go');
  }
  return c;
}

function sameInterface(a: string, b: string): boolean {
  const wild = (h: string) => h === '0.0.0.0' || h === '::';
  return a === b || wild(a) || wild(b);
}
