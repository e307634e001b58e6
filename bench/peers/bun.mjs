/* global Bun -- this file runs under Bun, not Node */
// Peer: Bun's built-in uWebSockets server with topic `publish` (run with `bun bench/peers/bun.mjs <port>`).
// Bun's clocks are not CLOCK_MONOTONIC; the orchestrator calibrates an offset through the driver's `clock` command.
import { runDriver } from './driver.mjs';

const port = Number(process.argv[2] ?? 0);
const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  async fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === '/ws') {
      const user = url.searchParams.get('user') ?? 'anon';
      if (srv.upgrade(req, { data: { user } })) return undefined;
      return new Response('upgrade failed', { status: 400 });
    }
    if (req.method === 'POST' && url.pathname === '/api/publish') {
      const msg = await req.json();
      srv.publish(`u:${msg.to.user}`, JSON.stringify({ type: 'message', stream: `user:${msg.to.user}`, data: msg.data }));
      return Response.json({ ok: true });
    }
    return new Response('not found', { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      ws.subscribe('all');
      ws.subscribe(`u:${ws.data.user}`);
      ws.send(JSON.stringify({ type: 'welcome', user: ws.data.user }));
    },
    message() {},
  },
});
process.stdout.write(`${JSON.stringify({ event: 'ready', port: server.port })}\n`);
runDriver({
  publish: (data) => server.publish('all', JSON.stringify({ type: 'message', stream: 'broadcast', data })),
  now: () => Math.round(performance.now() * 1000),
  gc: () => Bun.gc(true),
});
