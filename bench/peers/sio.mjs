// Peer: socket.io 4 (npm), io.emit for broadcast, a room per user for unicast. node bench/peers/sio.mjs <port>
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { readBody, runDriver } from './driver.mjs';

const port = Number(process.argv[2] ?? 0);
let io;
const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/api/publish') return;
  readBody(req, (body) => {
    const msg = JSON.parse(body);
    io.to(`u:${msg.to.user}`).emit('m', msg.data);
    const out = '{"ok":true}';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length }).end(out);
  });
});
io = new Server(server, { transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  const user = socket.handshake.query.user ?? 'anon';
  socket.join(`u:${user}`);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', port: server.address().port })}\n`);
});
runDriver({ publish: (data) => io.emit('m', data), gc: globalThis.gc });
