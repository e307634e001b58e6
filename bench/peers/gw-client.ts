// The GatewayClient stand-in of the gateway suite: what `GatewayClient\Gateway::sendToUid($uid, $message)` writes,
// sent as fast as the gateway takes it. It finds the gateway through the Register, opens one inner-port connection,
// sends GATEWAY_CLIENT_CONNECT (202) with the secret, then pipelines SEND_TO_UID (14) frames: ext_data
// json_encode([$uid]), body the message with its send time `t` (CLOCK_MONOTONIC µs) for the clients to time.
//   node --import tsx bench/peers/gw-client.ts <registerPort> <secret>
// Commands: `send <count> <users>` sends count frames to u1..u<users> in turn, writing while the socket's own
// buffer holds less than HIGH_WATER bytes (so `t` is taken when the gateway can take the frame, not queued here),
// and answers {"event":"sent","count":..,"firstUs":..,"lastUs":..}; `quit`.
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { Cmd, encodeFrame, Flag } from '../../src/protocol/gatewayworker/index.ts';
import { connectTo, findGateways } from './gw-register.ts';

const registerPort = Number(process.argv[2]);
const secret = process.argv[3] ?? '';
const HIGH_WATER = 64 * 1024;
/** Frames built per write: GatewayClient writes one per call; a php-fpm pool has many callers at once. */
const PER_WRITE = 32;
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

const { addresses, register } = await findGateways(registerPort, secret);
register.destroy();
const link: Socket = await connectTo(addresses[0]!);
if (secret !== '') link.write(encodeFrame({ cmd: Cmd.GATEWAY_CLIENT_CONNECT, flag: Flag.BODY_IS_SCALAR, body: JSON.stringify({ secret_key: secret }) }));
link.on('close', () => process.exit(1));
process.stdout.write(`${JSON.stringify({ event: 'ready', gateway: addresses[0] })}\n`);

function send(count: number, users: number): void {
  let sent = 0;
  let firstUs = 0;
  const pump = (): void => {
    while (sent < count && link.writableLength < HIGH_WATER) {
      const frames: Buffer[] = [];
      const t = nowUs();
      if (firstUs === 0) firstUs = t;
      for (let i = 0; i < PER_WRITE && sent < count; i++, sent++) {
        frames.push(
          encodeFrame({
            cmd: Cmd.SEND_TO_UID,
            flag: Flag.BODY_IS_SCALAR,
            extData: `["u${(sent % users) + 1}"]`,
            body: `{"t":${t},"text":"a typical small message"}`,
          }),
        );
      }
      link.write(Buffer.concat(frames));
    }
    if (sent < count) link.once('drain', pump);
    else process.stdout.write(`${JSON.stringify({ event: 'sent', count, firstUs, lastUs: nowUs() })}\n`);
  };
  pump();
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, a, b] = line.trim().split(/\s+/);
  if (cmd === 'send') send(Number(a), Number(b));
  else if (cmd === 'quit') process.exit(0);
});
rl.on('close', () => process.exit(0));
