// The server-side half of the bench, shared by Herald's wrapper and every peer server (Node and Bun), so each one
// publishes the same messages the same way. Commands on stdin, one per line; answers are JSON lines on stdout:
//   burst <messages> <perTurn>   publish <messages>, <perTurn> of them per event-loop turn (setImmediate between)
//   paced <msgs/s> <seconds>     publish at a fixed rate; each message carries its *scheduled* time, so server lag
//                                counts as latency (no coordinated omission)
//   gc                           collect garbage (needs --expose-gc under Node)
//   clock                        reply with this process's monotonic clock, in µs
//   offset <µs>                  add this to the clock (Bun: its clock is not CLOCK_MONOTONIC)
//   quit
// Every message's data is {"t":<CLOCK_MONOTONIC µs>,"text":"..."}; the C load client reads `t` back.
import { createInterface } from 'node:readline';

const TEXT = 'a typical small message, about a hundred bytes on the wire';

/** @param {{ publish: (data: {t: number, text: string}) => void, now?: () => number, gc?: () => void, close?: () => Promise<void> | void }} peer */
export function runDriver(peer) {
  let offset = 0;
  const base = peer.now ?? (() => Number(process.hrtime.bigint() / 1000n));
  const now = () => base() + offset;
  const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

  const burst = (m, perTurn) => {
    let sent = 0;
    const t0 = now();
    const turn = () => {
      const end = Math.min(m, sent + perTurn);
      for (; sent < end; sent++) peer.publish({ t: now(), text: TEXT });
      if (sent < m) setImmediate(turn);
      else say({ event: 'burst', messages: m, publishUs: now() - t0 });
    };
    turn();
  };

  const paced = (rate, seconds) => {
    const total = Math.max(1, Math.round(rate * seconds));
    const start = now() + 1000;
    let sent = 0;
    let lagMax = 0;
    const tick = () => {
      const t = now();
      let due = Math.min(total, Math.floor(((t - start) * rate) / 1e6) + 1);
      if (t < start) due = 0;
      for (; sent < due; sent++) {
        const scheduled = Math.round(start + (sent * 1e6) / rate);
        if (t - scheduled > lagMax) lagMax = t - scheduled;
        peer.publish({ t: scheduled, text: TEXT });
      }
      if (sent < total) setTimeout(tick, 1);
      else say({ event: 'paced', messages: total, lagMaxUs: lagMax });
    };
    tick();
  };

  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const [cmd, a, b] = line.trim().split(/\s+/);
    if (cmd === 'burst') burst(Number(a), Number(b ?? 1));
    else if (cmd === 'paced') paced(Number(a), Number(b));
    else if (cmd === 'gc') {
      for (let i = 0; i < 3; i++) peer.gc?.();
      say({ event: 'gc' });
    } else if (cmd === 'clock') say({ event: 'clock', us: now() });
    else if (cmd === 'offset') {
      offset = Number(a);
      say({ event: 'offset' });
    } else if (cmd === 'quit') {
      Promise.resolve(peer.close?.()).finally(() => process.exit(0));
    }
  });
  rl.on('close', () => process.exit(0));
}

/** Reads a POST body and answers it; used by the peers' minimal publish endpoint. */
export function readBody(req, cb) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => cb(Buffer.concat(chunks).toString()));
}
