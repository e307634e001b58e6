// Unicast: one message per user, to users connected through the load client. Over HTTP (the C client as a
// closed-loop keep-alive publisher, 1 and 8 connections), and for Herald also through the pipelined line port and
// batch publish requests. Each one runs RUNS times on the same receivers; the medians are reported.
import { connect } from 'node:net';
import { API_KEY, CFG, log, nowUs, quick, RUNS, TICK_HZ } from '../lib/config.ts';
import { repeat, type Repeated } from '../lib/median.ts';
import { cpuTicks, Proc } from '../lib/proc.ts';
import { loadClient, type Server } from '../lib/session.ts';
import { runs, type Variant } from '../peers.ts';

export interface UnicastResult {
  conns: number;
  requests: number;
  bad: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  delivered: number;
  e2eP99ms: number;
  serverCpu: number;
  loaderCpu: number;
}

export interface ThroughputResult {
  messages: number;
  seconds: number;
  perSec: number;
  delivered: number;
  e2eP99ms: number;
  serverCpu: number;
}

export interface UnicastResults {
  http1?: Repeated<UnicastResult>;
  http8?: Repeated<UnicastResult>;
  line?: Repeated<ThroughputResult>;
  batch?: Repeated<ThroughputResult>;
}

const MSG = 'a typical small message, about a hundred bytes on the wire';
const timeoutMs = (): number => CFG.timeoutSec * 1000;

async function unicastHttp(srv: Proc, cli: Proc, port: number, conns: number, users: number): Promise<UnicastResult> {
  await cli.ask('reset', 'reset');
  const s0 = cpuTicks(srv.pid);
  const t0 = nowUs();
  const pub = new Proc(
    loadClient(),
    ['http', '127.0.0.1', String(port), String(conns), String(CFG.unicastCount), String(users), API_KEY, String(quick ? 15_000 : 30_000)],
    { cpu: 1 },
  );
  const r = await pub.wait('http', 40_000);
  const loaderTicks = cpuTicks(pub.pid);
  const wall = (nowUs() - t0) / 1e6;
  const sCpu = (cpuTicks(srv.pid) - s0) / TICK_HZ / wall;
  await pub.stop();
  const d = await cli.ask(`expect ${Number(r.requests)} 5000`, 'expect', 10_000);
  return {
    conns,
    requests: Number(r.requests),
    bad: Number(r.bad),
    rps: Number(r.rps),
    p50ms: Number(r.p50_ms),
    p99ms: Number(r.p99_ms),
    delivered: Number(d.delivered),
    e2eP99ms: Number(d.p99_ms),
    serverCpu: sCpu,
    loaderCpu: loaderTicks / TICK_HZ / wall,
  };
}

/** Pipelined line port: auth, then publish lines with up to `window` unanswered. */
async function linePort(srv: Proc, cli: Proc, port: number, users: number): Promise<ThroughputResult> {
  await cli.ask('reset', 'reset');
  const total = CFG.lineCount;
  const window = 4000;
  const chunk = 500;
  const sock = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.10' });
  sock.setNoDelay(true);
  await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
  let replies = 0;
  let errors = 0;
  let sent = 0;
  let t0 = 0;
  let s0 = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`line port: ${replies}/${total} replies before timeout`)), timeoutMs());
    let authed = false;
    const pump = (): void => {
      while (sent < total && sent - replies < window) {
        const n = Math.min(chunk, total - sent);
        let s = '';
        for (let k = 0; k < n; k++, sent++) s += `{"op":"publish","to":{"user":"u${(sent * 7919) % users}"},"data":{"t":${nowUs()},"text":"${MSG}"}}\n`;
        sock.write(s);
      }
    };
    sock.on('data', (buf: Buffer) => {
      for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) {
        if (!authed) {
          authed = true;
          t0 = nowUs();
          s0 = cpuTicks(srv.pid);
          continue;
        }
        replies++;
      }
      if (!authed) return;
      // Replies are coalesced, and a TCP chunk may start mid-line: count error lines, not chunk starts.
      for (let i = buf.indexOf('ERR '); i !== -1; i = buf.indexOf('ERR ', i + 4)) if (i === 0 || buf[i - 1] === 10) errors++;
      if (replies >= total) {
        clearTimeout(timer);
        resolve();
      } else pump();
    });
    sock.write(`{"op":"auth","key":"${API_KEY}"}\n`);
    sock.once('data', () => pump());
  });
  try {
    await done;
  } finally {
    sock.destroy();
  }
  const seconds = (nowUs() - t0) / 1e6;
  const serverCpu = (cpuTicks(srv.pid) - s0) / TICK_HZ / seconds;
  const d = await cli.ask(`expect ${total} 5000`, 'expect', 10_000);
  if (errors > 0) log(`  line port: ${errors} ERR replies`);
  return { messages: total, seconds, perSec: total / seconds, delivered: Number(d.delivered), e2eP99ms: Number(d.p99_ms), serverCpu };
}

/** Batch publish requests of 500 messages, 2 requests in flight. */
async function batch(srv: Proc, cli: Proc, port: number, users: number): Promise<ThroughputResult> {
  await cli.ask('reset', 'reset');
  const size = 500;
  const total = CFG.batchCount;
  let next = 0;
  const t0 = nowUs();
  const s0 = cpuTicks(srv.pid);
  const deadline = Date.now() + timeoutMs();
  await Promise.all(
    [0, 1].map(async () => {
      while (next < total && Date.now() < deadline) {
        const base = next;
        next += size;
        let body = '{"messages":[';
        for (let k = 0; k < size; k++) body += `${k ? ',' : ''}{"to":{"user":"u${((base + k) * 7919) % users}"},"data":{"t":${nowUs()},"text":"${MSG}"}}`;
        body += ']}';
        const res = await fetch(`http://127.0.0.1:${port}/api/publish/batch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body,
        });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`batch publish: HTTP ${res.status}`);
      }
    }),
  );
  const seconds = (nowUs() - t0) / 1e6;
  const serverCpu = (cpuTicks(srv.pid) - s0) / TICK_HZ / seconds;
  const d = await cli.ask(`expect ${total} 5000`, 'expect', 10_000);
  return { messages: total, seconds, perSec: total / seconds, delivered: Number(d.delivered), e2eP99ms: Number(d.p99_ms), serverCpu };
}

const k = (x: number): string => `${(x / 1000).toFixed(1)}k`;

/** The unicast workloads the variant has, with `users` receivers connected through `cli`. */
export async function unicastAt(v: Variant, s: Server, cli: Proc, users: number): Promise<UnicastResults | undefined> {
  const out: UnicastResults = {};
  if (runs(v, 'http')) {
    log(`${v.name}: unicast via HTTP, ${users} users connected`);
    out.http1 = await repeat(RUNS, () => unicastHttp(s.srv, cli, s.port, 1, users));
    out.http8 = await repeat(RUNS, () => unicastHttp(s.srv, cli, s.port, 8, users));
    log(
      `  HTTP 1 conn: ${k(out.http1.rps)} req/s (runs ${out.http1.runs.map((r) => k(r.rps)).join(' ')}) p99 ${out.http1.p99ms} ms; 8 conns: ${k(out.http8.rps)} req/s p99 ${out.http8.p99ms} ms`,
    );
  }
  if (runs(v, 'line')) out.line = await repeat(RUNS, () => linePort(s.srv, cli, s.linePort, users));
  if (runs(v, 'batch')) out.batch = await repeat(RUNS, () => batch(s.srv, cli, s.port, users));
  if (out.line || out.batch) log(`  line port: ${k(out.line?.perSec ?? 0)} msgs/s; batch: ${k(out.batch?.perSec ?? 0)} msgs/s`);
  return Object.keys(out).length > 0 ? out : undefined;
}
