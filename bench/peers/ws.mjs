// Peer: a plain `ws` server with a send loop (what most Node push servers do). node bench/peers/ws.mjs <port>
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { readBody, runDriver } from './driver.mjs';

const port = Number(process.argv[2] ?? 0);
const byUser = new Map();
const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/api/publish') {
    res.writeHead(404).end();
    return;
  }
  readBody(req, (body) => {
    const msg = JSON.parse(body);
    const text = JSON.stringify({ type: 'message', stream: `user:${msg.to.user}`, data: msg.data });
    let n = 0;
    for (const ws of byUser.get(msg.to.user) ?? []) {
      ws.send(text);
      n++;
    }
    const out = JSON.stringify({ delivered: n });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
  });
});
const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws, req) => {
  const user = new URL(req.url, 'http://x').searchParams.get('user') ?? 'anon';
  let set = byUser.get(user);
  if (!set) byUser.set(user, (set = new Set()));
  set.add(ws);
  ws.on('close', () => set.delete(ws));
  ws.on('error', () => {});
  ws.send(JSON.stringify({ type: 'welcome', user }));
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', port: server.address().port })}\n`);
});
runDriver({
  publish(data) {
    const text = JSON.stringify({ type: 'message', stream: 'broadcast', data });
    for (const ws of wss.clients) ws.send(text);
  },
  gc: globalThis.gc,
});
