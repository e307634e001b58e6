// The servers under test ("variants") and what each one runs. A variant is started once per bench, gets its
// clients from the C load client in one of its protocols, and declares the workloads it lacks in `skip`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenService } from '../src/auth/tokens.ts';
import { API_KEY, BENCH, CFG, FLAGS, PUSHER_APP, quick, RESULTS, TOKEN_SECRET } from './lib/config.ts';
import { Proc } from './lib/proc.ts';

/**
 * idle: idle memory and connection rate; n<N>: N clients connected (for broadcast, and the unicast workloads at
 * CFG.unicastN); broadcast: bursts to them; paced: the paced sweep; http: unicast over HTTP; line, batch: Herald's
 * pipelined line port and batch publish; events: signed Pusher HTTP `events` triggers next to native publishes (the
 * variants whose clients speak the Pusher protocol only).
 */
export type Workload = 'idle' | 'broadcast' | 'paced' | 'http' | 'line' | 'batch' | 'events' | `n${number}`;

export interface Ports {
  /** HTTP (publish API, and the WebSocket endpoint unless the variant names another client port). */
  http: number;
  line: number;
  /** A second listener for the clients, when the variant has one (Herald's compat Socket.IO port). */
  client: number;
}

export interface Variant {
  name: string;
  /**
   * What the load client speaks: native WebSocket frames, Engine.IO v4 (socket.io 4), Engine.IO v3 (socket.io-client
   * 2), the Pusher protocol (pusher-js, each client subscribed to channel `news`).
   */
  proto: 'ws' | 'eio4' | 'eio3' | 'pusher';
  /** The server process; it prints {"event":"ready", ..., "clientPort"?} when listening, then obeys driver.mjs. */
  start(ports: Ports): Proc;
  /** Request paths, one per connection i (user u<i>). */
  paths(n: number): Promise<string[]>;
  skip: Set<Workload>;
}

const UNICAST: Workload[] = ['http', 'line', 'batch'];

export function runs(v: Variant, w: Workload): boolean {
  if (v.skip.has(w) || (w === 'events' && v.proto !== 'pusher')) return false;
  const only = FLAGS.workloads;
  if (only === undefined || only.includes(w)) return true;
  // The unicast workloads need their receivers connected.
  return w === `n${CFG.unicastN}` && UNICAST.some((u) => only.includes(u) && !v.skip.has(u));
}

const tokens = new TokenService(TOKEN_SECRET);
const tokenCache: string[] = [];
async function heraldPaths(n: number): Promise<string[]> {
  for (let i = tokenCache.length; i < n; i++) tokenCache.push(`/ws?token=${await tokens.sign(`u${i}`, { ttlSeconds: 6 * 3600 })}`);
  return tokenCache.slice(0, n);
}
const userPaths = (prefix: string) => async (n: number) => Array.from({ length: n }, (_, i) => `${prefix}u${i}`);
// pusher-js's query; the load client cycles the one path over its connections.
const pusherPaths = async (): Promise<string[]> => [`/app/${PUSHER_APP.key}?protocol=7&client=js&version=8.4.0&flash=false`];
const nodeArgs = (name: string): string[] => ['--expose-gc', ...(FLAGS.profile ? ['--cpu-prof', '--cpu-prof-dir', join(RESULTS, 'profiles', name)] : [])];
const peer = (file: string): string => join(BENCH, 'peers', file);
const PEER_ONLY: Workload[] = ['line', 'batch']; // Herald's own publish paths

/** Herald in process under the driver (bench/peers/herald.ts): memory or SQLite store, native, compat or Pusher clients. */
function herald(
  name: string,
  store: 'memory' | 'sqlite',
  opts: { socketio?: boolean; pusher?: boolean; skip?: Workload[]; noFastLane?: boolean } = {},
): Variant {
  return {
    name,
    proto: opts.socketio ? 'eio3' : opts.pusher ? 'pusher' : 'ws',
    skip: new Set(opts.skip ?? []),
    // Socket.IO 2.x clients log in with the uid (the listener also takes a signed token); see wsload's eio3 mode.
    paths: opts.socketio ? userPaths('/socket.io/?EIO=3&transport=websocket&user=') : opts.pusher ? pusherPaths : heraldPaths,
    start(ports) {
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
      const env = { ...process.env, HERALD_API_KEY: API_KEY, HERALD_TOKEN_SECRET: TOKEN_SECRET, HERALD_LOG_LEVEL: 'warn', HERALD_STORE: store };
      const args = [
        peer('herald.ts'),
        String(ports.http),
        String(ports.line),
        store,
        dataDir,
        ...(opts.socketio ? ['--socketio', String(ports.client)] : []),
        ...(opts.noFastLane ? ['--no-fast-lane'] : []),
        ...(opts.pusher ? ['--pusher'] : []),
      ];
      const p = new Proc('node', [...nodeArgs(name), '--import', 'tsx', ...args], { cpu: 0, env });
      p.child.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
      return p;
    },
  };
}

export function variants(bun: string | undefined): Variant[] {
  const list: Variant[] = [
    herald('herald', 'memory'),
    // The same Herald with `http.fastLane: false`: the publish endpoints through Node's HTTP server, the figure the
    // fast lane has to beat by 1.3x to be kept (issue 16).
    herald('herald-nodehttp', 'memory', {
      noFastLane: true,
      skip: ['idle', 'broadcast', 'paced', 'line', ...CFG.ns.filter((n) => n !== CFG.unicastN).map((n) => `n${n}` as const)],
    }),
    ...(quick ? [] : [herald('herald-sqlite', 'sqlite', { skip: ['idle', 'n10000', 'http', ...PEER_ONLY] })]),
    // Herald's Workerman / web-msg-sender Socket.IO listener (port 2120 in the profile), socket.io-client 2.x protocol.
    herald('herald-eio3', 'memory', { socketio: true, skip: ['idle', 'http', ...PEER_ONLY, ...(quick ? [] : (['paced'] as Workload[]))] }),
    // Herald's Pusher protocol (issue 14): pusher-js clients on /app/<key> subscribed to one public channel, the
    // driver publishing to it; and the HTTP API's signed `events` triggers next to native publishes (workloads/events.ts).
    ...(FLAGS.skipPusher ? [] : [herald('herald-pusher', 'memory', { pusher: true, skip: ['http', ...PEER_ONLY] })]),
    {
      name: 'ws',
      proto: 'ws',
      skip: new Set(PEER_ONLY),
      paths: userPaths('/ws?user='),
      start: (ports) => new Proc('node', [...nodeArgs('ws'), peer('ws.mjs'), String(ports.http)], { cpu: 0 }),
    },
    {
      name: 'socket.io',
      proto: 'eio4',
      skip: new Set(PEER_ONLY),
      paths: userPaths('/socket.io/?EIO=4&transport=websocket&user='),
      start: (ports) => new Proc('node', [...nodeArgs('sio'), peer('sio.mjs'), String(ports.http)], { cpu: 0 }),
    },
    {
      // The raw-TCP reference: hand-made handshake, frame built once, one socket.write per delivery.
      name: 'raw',
      proto: 'ws',
      skip: new Set<Workload>(['http', ...PEER_ONLY]),
      paths: userPaths('/ws?user='),
      start: (ports) => new Proc('node', [...nodeArgs('raw'), peer('raw.mjs'), String(ports.http)], { cpu: 0 }),
    },
  ];
  if (bun) {
    list.push({
      name: 'bun',
      proto: 'ws',
      skip: new Set(PEER_ONLY),
      paths: userPaths('/ws?user='),
      start: (ports) => new Proc(bun, [peer('bun.mjs'), String(ports.http)], { cpu: 0 }),
    });
  }
  return FLAGS.only ? list.filter((v) => FLAGS.only!.includes(v.name)) : list;
}
