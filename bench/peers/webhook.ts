// The Swoole-profile backend of the gateway suite: a fast webhook, as a backend developer would write it with Node's
// `http` (keep-alive, no framework). It checks each event's signature, as a real backend must, and answers every
// `message` with a short text that carries the message back (seed 004's "已收到你的消息:" + data), so the client
// can time the round trip from the `t` inside; `open` and `close` get an empty 200 (nothing is pushed).
//   node --import tsx bench/peers/webhook.ts <secret>
// Prints {"event":"ready","port":...} when listening; quits on `quit` or when stdin closes.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

const secret = process.argv[2] ?? '';
let messages = 0;
let refused = 0;
/** Open connections from Herald: how many keep-alive connections its webhook client holds. */
let sockets = 0;

function verified(req: IncomingMessage, body: string): boolean {
  const ts = req.headers['x-herald-timestamp'];
  const sig = req.headers['x-herald-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string') return false;
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`);
  const got = Buffer.from(sig);
  return got.length === want.length && timingSafeEqual(got, want);
}

function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
  if (!verified(req, body)) {
    refused++;
    res.writeHead(401).end();
    return;
  }
  const ev = JSON.parse(body) as { type?: string; data?: string };
  if (ev.type === 'message' && typeof ev.data === 'string') {
    messages++;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(`received: ${ev.data}`);
    return;
  }
  res.writeHead(200).end();
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => answer(req, res, Buffer.concat(chunks).toString('utf8')));
});
server.on('connection', (s) => {
  sockets++;
  s.on('close', () => sockets--);
});
// Herald keeps its connections to the webhook open between events; so does this server, past Node's 5 s default.
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', port: (server.address() as AddressInfo).port })}\n`);
});

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'report') process.stdout.write(`${JSON.stringify({ event: 'report', messages, refused, sockets })}\n`);
  else if (cmd === 'quit') process.exit(0);
});
rl.on('close', () => process.exit(0));
