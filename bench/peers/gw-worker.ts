// The BusinessWorker stand-in of the gateway suite, in Node with Herald's GatewayProtocol codecs: it links to every
// gateway the Register announces (WORKER_CONNECT, 200) and runs the Events.php of a minimal chat app:
//   onConnect($client_id)          Gateway::bindUid($client_id, 'u' . <connection id>)   (BIND_UID, 12)
//   onMessage($client_id, $data)   Gateway::sendToCurrentClient("received: $data")      (SEND_TO_ONE, 5)
//   node --import tsx bench/peers/gw-worker.ts <registerPort> <secret>
// Prints {"event":"ready"} once a gateway has applied its WORKER_CONNECT; `report` gives its counters; `quit`.
// Everything one read brings is answered in one write (cork/uncork): this measures the gateway, not the worker.
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { Cmd, encodeFrame, Flag, FrameReader, ReplyReader, type GatewayFrame } from '../../src/protocol/gatewayworker/index.ts';
import { connectTo, findGateways } from './gw-register.ts';

const registerPort = Number(process.argv[2]);
const secret = process.argv[3] ?? '';
const REPLY_PREFIX = Buffer.from('received: ');
const stats = { connects: 0, messages: 0, closes: 0 };

function onFrame(link: Socket, f: GatewayFrame): void {
  switch (f.cmd) {
    case Cmd.ON_CONNECT:
      stats.connects++;
      link.write(encodeFrame({ cmd: Cmd.BIND_UID, connectionId: f.connectionId, flag: Flag.BODY_IS_SCALAR, extData: `u${f.connectionId}` }));
      return;
    case Cmd.ON_MESSAGE:
      stats.messages++;
      link.write(encodeFrame({ cmd: Cmd.SEND_TO_ONE, connectionId: f.connectionId, flag: Flag.BODY_IS_SCALAR, body: Buffer.concat([REPLY_PREFIX, f.body]) }));
      return;
    case Cmd.ON_CLOSE:
      stats.closes++;
      return;
  }
}

/** Links to one gateway; resolves once its WORKER_CONNECT is applied (a query after it on the link is answered). */
async function link(address: string): Promise<void> {
  const s = await connectTo(address);
  s.write(
    encodeFrame({ cmd: Cmd.WORKER_CONNECT, flag: Flag.BODY_IS_SCALAR, body: JSON.stringify({ worker_key: `bench:${process.pid}`, secret_key: secret }) }),
  );
  s.write(encodeFrame({ cmd: Cmd.GET_ALL_CLIENT_SESSIONS, flag: Flag.BODY_IS_SCALAR }));
  const replies = new ReplyReader();
  const events = new FrameReader();
  let linked = false;
  await new Promise<void>((resolve, reject) => {
    s.once('close', () => reject(new Error(`gateway ${address} closed the link (wrong secret?)`)));
    s.on('data', (chunk: Buffer) => {
      let rest = chunk;
      if (!linked) {
        // The readiness reply comes first: nothing else is sent to a link before its first query is answered.
        const before = replies.buffered;
        const r = replies.push(chunk);
        if (r.frames.length === 0) return;
        linked = true;
        rest = chunk.subarray(4 + r.frames[0]!.length - before);
        resolve();
      }
      const { frames, error } = events.push(rest);
      if (error !== undefined) throw error;
      s.cork();
      for (const f of frames) onFrame(s, f);
      s.uncork();
    });
  });
}

const { addresses } = await findGateways(registerPort, secret);
await Promise.all(addresses.map(link));
process.stdout.write(`${JSON.stringify({ event: 'ready', gateways: addresses })}\n`);

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'report') process.stdout.write(`${JSON.stringify({ event: 'report', ...stats })}\n`);
  else if (cmd === 'quit') process.exit(0);
});
rl.on('close', () => process.exit(0));
