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
 * variants whose clients speak the Pusher protocol only); text: broadcasts and pipelined pushes through the
 * Workerman Text port to uid-websocket clients (herald-compat only, workloads/compat.ts).
 */
export type Workload = 'idle' | 'broadcast' | 'paced' | 'http' | 'line' | 'batch' | 'events' | 'text' | `n${number}`;

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
   * 2), the Pusher protocol (pusher-js, each client subscribed to channel `news`), Workerman's websocket (the uid
   * `u<i>` as first frame, Herald's compat port 1234).
   */
  proto: 'ws' | 'eio4' | 'eio3' | 'pusher' | 'uid';
  /** The server process; it prints {"event":"ready", ..., "clientPort"?} when listening, then obeys driver.mjs. */
  start(ports: Ports): Proc;
  /** Request paths, one per connection i (user u<i>). */
  paths(n: number): Promise<string[]>;
  skip: Set<Workload>;
}

const UNICAST: Workload[] = ['http', 'line', 'batch'];

export function runs(v: Variant, w: Workload): boolean {
  if (v.skip.has(w) || (w === 'events' && v.proto !== 'pusher') || (w === 'text' && v.proto !== 'uid')) return false;
  const only = FLAGS.workloads;
  if (only === undefined || only.includes(w)) return true;
  // The Text-port workload runs at every N; the unicast workloads need their receivers connected.
  if (w.startsWith('n') && v.proto === 'uid' && only.includes('text')) return true;
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
const rootPath = async (): Promise<string[]> => ['/'];
const nodeArgs = (name: string): string[] => ['--expose-gc', ...(FLAGS.profile ? ['--cpu-prof', '--cpu-prof-dir', join(RESULTS, 'profiles', name)] : [])];
const peer = (file: string): string => join(BENCH, 'peers', file);
const PEER_ONLY: Workload[] = ['line', 'batch']; // Herald's own publish paths

/**
 * Herald in process under the driver (bench/peers/herald.ts): memory or SQLite store, native, compat (Socket.IO or
 * Workerman's uid websocket and Text port) or Pusher clients.
 */
function herald(
  name: string,
  store: 'memory' | 'sqlite',
  opts: { socketio?: boolean; pusher?: boolean; workerman?: boolean; skip?: Workload[]; noFastLane?: boolean } = {},
): Variant {
  return {
    name,
    proto: opts.socketio ? 'eio3' : opts.pusher ? 'pusher' : opts.workerman ? 'uid' : 'ws',
    skip: new Set(opts.skip ?? []),
    // Socket.IO 2.x clients log in with the uid (the listener also takes a signed token); see wsload's eio3 mode.
    // Workerman pages open `ws://host:1234` and send their uid (wsload's uid mode).
    paths: opts.socketio ? userPaths('/socket.io/?EIO=3&transport=websocket&user=') : opts.pusher ? pusherPaths : opts.workerman ? rootPath : heraldPaths,
    start(ports) {
      const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
      // The Workerman profile runs on the default store (SQLite): no HERALD_STORE.
      const env = {
        ...process.env,
        HERALD_API_KEY: API_KEY,
        HERALD_TOKEN_SECRET: TOKEN_SECRET,
        HERALD_LOG_LEVEL: 'warn',
        ...(opts.workerman ? {} : { HERALD_STORE: store }),
      };
      const args = [
        peer('herald.ts'),
        String(ports.http),
        String(ports.line),
        store,
        dataDir,
        ...(opts.socketio ? ['--socketio', String(ports.client)] : []),
        ...(opts.noFastLane ? ['--no-fast-lane'] : []),
        ...(opts.pusher ? ['--pusher'] : []),
        ...(opts.workerman ? ['--workerman', String(ports.client), String(ports.line)] : []),
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
    // The embedded default store on the broadcast rows and on HTTP unicast to 10,000 users (a stream each).
    ...(quick ? [] : [herald('herald-sqlite', 'sqlite', { skip: ['idle', ...PEER_ONLY] })]),
    // Herald's Workerman / web-msg-sender Socket.IO listener (port 2120 in the profile), socket.io-client 2.x protocol.
    herald('herald-eio3', 'memory', { socketio: true, skip: ['idle', 'http', ...PEER_ONLY, ...(quick ? [] : (['paced'] as Workload[]))] }),
    // Herald's Pusher protocol (issue 14): pusher-js clients on /app/<key> subscribed to one public channel, the
    // driver publishing to it; and the HTTP API's signed `events` triggers next to native publishes (workloads/events.ts).
    ...(FLAGS.skipPusher ? [] : [herald('herald-pusher', 'memory', { pusher: true, skip: ['http', ...PEER_ONLY] })]),
    // Herald as `herald start --profile workerman` on its default SQLite store (issue 15): Workerman pages on the uid
    // websocket (1234), pushes and broadcasts written as JSON lines to the Text port (5678) by a backend stand-in
    // (wsload's text mode); figures next to Workerman 4.2.1's (workloads/compat.ts). --skip-compat leaves it out.
    ...(FLAGS.skipCompat ? [] : [herald('herald-compat', 'sqlite', { workerman: true, skip: ['broadcast', 'paced', 'http', 'events', ...PEER_ONLY] })]),
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
