// HTTP triggers on the herald-pusher variant: signed Pusher `POST /apps/<id>/events` next to Herald's native
// `POST /api/publish`, on the same server, to the same channel (`news`) and its one Pusher subscriber. The C load
// client sends one pre-built request over and over (wsload `req` mode: closed loop, 1 and 8 keep-alive connections),
// so it does no crypto: the Pusher request is signed once here, and the server has no replay window
// (`timestampWindowSeconds: 0`, bench/peers/herald.ts). Native and Pusher runs alternate, RUNS times each; the
// medians are reported.
import { createHash, createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_KEY, CFG, log, nowUs, PUSHER_APP, quick, RESULTS, RUNS, TICK_HZ } from '../lib/config.ts';
import { medianOf, type Repeated } from '../lib/median.ts';
import { cpuTicks, Proc } from '../lib/proc.ts';
import { loadClient, openClients, type Server } from '../lib/session.ts';
import type { Variant } from '../peers.ts';
import type { UnicastResult } from './unicast.ts';

/** A closed-loop HTTP run, as the unicast workload measures it; `delivered`: messages the one subscriber received. */
export type TriggerResult = Omit<UnicastResult, 'e2eP99ms'>;

export interface EventsResult {
  pusher1: Repeated<TriggerResult>;
  native1: Repeated<TriggerResult>;
  pusher8: Repeated<TriggerResult>;
  native8: Repeated<TriggerResult>;
}

/** The data both requests carry; its `\"t\":` is what the load client counts (a fixed body has no real send time). */
const DATA = JSON.stringify({ t: 0, text: 'a typical small message' });

function request(port: number, pathAndQuery: string, body: string, headers: string[]): string {
  const head = [`POST ${pathAndQuery} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...headers, 'Content-Type: application/json'];
  return `${head.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** An `events` call as pusher-http-php makes it for `trigger('news', 'tick', data)`, signed (reference §10.1). */
export function pusherRequest(port: number): string {
  const body = JSON.stringify({ name: 'tick', data: DATA, channel: 'news' });
  const path = `/apps/${PUSHER_APP.id}/events`;
  const md5 = createHash('md5').update(body).digest('hex');
  const query = `auth_key=${PUSHER_APP.key}&auth_timestamp=${Math.floor(Date.now() / 1000)}&auth_version=1.0&body_md5=${md5}`;
  const signature = createHmac('sha256', PUSHER_APP.secret).update(`POST\n${path}\n${query}`).digest('hex');
  return request(port, `${path}?${query}&auth_signature=${signature}`, body, []);
}

/** The same message through Herald's own API. */
export function nativeRequest(port: number): string {
  const body = JSON.stringify({ to: { channel: 'news' }, event: 'tick', data: JSON.parse(DATA) as unknown });
  return request(port, '/api/publish', body, [`Authorization: Bearer ${API_KEY}`]);
}

async function triggerOnce(srv: Proc, cli: Proc, port: number, file: string, conns: number): Promise<TriggerResult> {
  const timeoutMs = quick ? 15_000 : 30_000;
  await cli.ask('reset', 'reset');
  const s0 = cpuTicks(srv.pid);
  const t0 = nowUs();
  const pub = new Proc(loadClient(), ['req', '127.0.0.1', String(port), String(conns), String(CFG.unicastCount), file, String(timeoutMs)], { cpu: 1 });
  const r = await pub.wait('http', timeoutMs + 10_000);
  const wall = (nowUs() - t0) / 1e6;
  const serverCpu = (cpuTicks(srv.pid) - s0) / TICK_HZ / wall;
  await pub.stop();
  const requests = Number(r.requests);
  const d = await cli.ask(`expect ${requests} 5000`, 'expect', 10_000);
  return {
    conns,
    requests,
    bad: Number(r.bad),
    rps: Number(r.rps),
    p50ms: Number(r.p50_ms),
    p99ms: Number(r.p99_ms),
    delivered: Number(d.delivered),
    serverCpu,
    loaderCpu: Number(r.cpu_s) / Number(r.seconds),
  };
}

const k = (x: number): string => `${(x / 1000).toFixed(1)}k`;

/** Both APIs at 1 and 8 connections, with one Pusher client of `v` subscribed to the channel. */
export async function eventsAt(v: Variant, s: Server): Promise<EventsResult> {
  const files = { pusher: join(RESULTS, '.bin', 'req-pusher-events.txt'), native: join(RESULTS, '.bin', 'req-native-publish.txt') };
  writeFileSync(files.pusher, pusherRequest(s.port));
  writeFileSync(files.native, nativeRequest(s.port));
  const { cli, connected } = await openClients(v, s, 1);
  if (Number(connected.ok) !== 1 || Number(connected.refused) > 0) throw new Error(`events: the subscriber did not subscribe (${JSON.stringify(connected)})`);
  const out: Partial<EventsResult> = {};
  try {
    for (const conns of [1, 8] as const) {
      const runs = { pusher: [] as TriggerResult[], native: [] as TriggerResult[] };
      for (let i = 0; i < RUNS; i++) {
        runs.native.push(await triggerOnce(s.srv, cli, s.port, files.native, conns));
        runs.pusher.push(await triggerOnce(s.srv, cli, s.port, files.pusher, conns));
      }
      const p = (out[`pusher${conns}`] = medianOf(runs.pusher));
      const n = (out[`native${conns}`] = medianOf(runs.native));
      for (const r of [...runs.pusher, ...runs.native]) {
        if (r.bad > 0 || r.delivered < r.requests) log(`  events: ${r.bad} non-2xx responses, ${r.delivered} of ${r.requests} delivered`);
      }
      log(
        `  ${conns} conn${conns > 1 ? 's' : ''}: Pusher events ${k(p.rps)} req/s (runs ${runs.pusher.map((r) => k(r.rps)).join(' ')}) p99 ${p.p99ms} ms; native publish ${k(n.rps)} req/s p99 ${n.p99ms} ms: ${(p.rps / n.rps).toFixed(2)}x`,
      );
    }
  } finally {
    await cli.stop();
  }
  return out as EventsResult;
}
