// Micro-benchmark of GatewayWorker mode's pure codecs: GatewayProtocol frames encoded and read per second, and
// serialize()/unserialize() of a typical session (5 keys) per second, with php-cli's own serialize/unserialize of
// the same session as the reference. Single thread, no I/O; the median of 3 runs of about 0.5 s each.
// Run: node --import tsx bench/codec-gateway.ts   (writes bench/results/codec-gateway.json and .md)
import { execFileSync } from 'node:child_process';
import { Cmd, encodeFrame, Flag, FrameReader } from '../src/protocol/gatewayworker/index.ts';
import { jsonToSession, PhpArray, serialize, sessionToJson, unserialize } from '../src/protocol/php/index.ts';
import { median } from './lib/median.ts';
import { writeReport } from './report.ts';

const RUNS = 3;
const RUN_MS = 500;

const session = PhpArray.from([
  ['room_id', 1],
  ['client_name', 'Ann'],
  ['uid', '42'],
  ['login_at', 1767225600],
  ['tags', PhpArray.list(['vip', 'beta'])],
]);
const sessionBytes = serialize(session);
const sessionJson = sessionToJson(sessionBytes);
const message = Buffer.from('{"type":"say","to_client_id":"all","content":"hello everyone"}');
const frameFields = {
  cmd: Cmd.ON_MESSAGE,
  localIp: 0x7f000001,
  localPort: 2300,
  clientIp: 0x7f000001,
  clientPort: 54321,
  connectionId: 7,
  flag: Flag.BODY_IS_SCALAR,
  gatewayPort: 7272,
  extData: sessionBytes,
  body: message,
};
const frame = encodeFrame(frameFields);
/** 64 KB reads, as a socket delivers them, with frames cut across reads. */
const stream = Buffer.concat(Array.from({ length: Math.ceil(65536 / frame.length) * 16 }, () => frame));
const chunks = Array.from({ length: Math.ceil(stream.length / 65536) }, (_, i) => stream.subarray(i * 65536, (i + 1) * 65536));
const framesPerStream = stream.length / frame.length;

/** Operations per second of `op`, which does `perCall` operations per call: the median of RUNS timed runs. */
function rate(op: () => void, perCall = 1): number {
  for (let i = 0; i < 1000; i++) op();
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(RUN_MS) * 1_000_000n;
    let now = start;
    while (now < deadline) {
      for (let i = 0; i < 100; i++) op();
      calls += 100;
      now = process.hrtime.bigint();
    }
    rates.push((calls * perCall) / (Number(now - start) / 1e9));
  }
  return median(rates);
}

let sink = 0;
const rows: { operation: string; perSecond: number; note: string }[] = [
  { operation: 'encodeFrame (ON_MESSAGE)', perSecond: rate(() => (sink += encodeFrame(frameFields).length)), note: `${frame.length} B frame` },
  {
    operation: 'FrameReader (64 KB reads)',
    perSecond: rate(() => {
      const reader = new FrameReader();
      for (const c of chunks) sink += reader.push(c).frames.length;
    }, framesPerStream),
    note: `${framesPerStream} frames per ${chunks.length} reads`,
  },
  { operation: 'serialize (5-key session)', perSecond: rate(() => (sink += serialize(session).length)), note: `${sessionBytes.length} B` },
  { operation: 'unserialize (5-key session)', perSecond: rate(() => (sink += (unserialize(sessionBytes) as PhpArray).size)), note: `${sessionBytes.length} B` },
  { operation: 'sessionToJson', perSecond: rate(() => (sink += Object.keys(sessionToJson(sessionBytes)).length)), note: 'unserialize + JSON bridge' },
  { operation: 'jsonToSession', perSecond: rate(() => (sink += jsonToSession(sessionJson).length)), note: 'JSON bridge + serialize' },
];

/** php-cli's own functions on the same session, for scale (measured inside PHP, so no process start-up). */
function phpRates(): { serialize: number; unserialize: number } | undefined {
  const code = `$s = unserialize(hex2bin('${sessionBytes.toString('hex')}'));
    $r = [];
    foreach (['serialize', 'unserialize'] as $what) {
      $best = [];
      for ($run = 0; $run < ${RUNS}; $run++) {
        $n = 0; $t = hrtime(true); $end = $t + ${RUN_MS} * 1000000; $b = serialize($s);
        do { for ($i = 0; $i < 100; $i++) { $x = $what === 'serialize' ? serialize($s) : unserialize($b); } $n += 100; $now = hrtime(true); } while ($now < $end);
        $best[] = $n / (($now - $t) / 1e9);
      }
      sort($best); $r[$what] = $best[intdiv(count($best), 2)];
    }
    echo json_encode($r);`;
  try {
    return JSON.parse(execFileSync('php', ['-r', code], { encoding: 'utf8' })) as { serialize: number; unserialize: number };
  } catch {
    return undefined;
  }
}

const php = phpRates();
if (php) {
  rows.push({ operation: 'php-cli serialize (same session)', perSecond: php.serialize, note: 'reference' });
  rows.push({ operation: 'php-cli unserialize (same session)', perSecond: php.unserialize, note: 'reference' });
}
const table = rows.map((r) => ({ operation: r.operation, 'per second': Math.round(r.perSecond).toLocaleString('en-US'), note: r.note }));
console.table(table);
writeReport('codec-gateway', { runs: RUNS, runMs: RUN_MS, frameBytes: frame.length, sessionBytes: sessionBytes.length, rows, sink: sink > 0 }, table, {
  notes: [`session: ${sessionBytes.toString()}`, 'one thread, no I/O; median of 3 runs of 0.5 s'],
});
