import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/codes.ts';
import { RawWsClient, SioClient } from '../helpers/compat.ts';
import { runHerald, runHeraldOnce } from '../helpers/process.ts';
import { TestClient } from '../helpers/ws-client.ts';

/**
 * SIGTERM with a client of every transport connected (the real binary): each is told to reconnect in its own
 * protocol, none of them gets back into the stopping process, and the process exits 0 after logging each phase.
 */
describe('graceful shutdown across every transport', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-shutdown-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('tells native, 1234, 9501 and Socket.IO clients (websocket and polling) to reconnect, takes none back, exits 0', async () => {
    const cfg = join(dir, 'herald.json');
    const any = { port: 0, host: '127.0.0.1' };
    writeFileSync(
      cfg,
      JSON.stringify({
        host: '127.0.0.1',
        port: 0,
        line: { enabled: false },
        compat: { websocket: any, text: any, socketio: any, httpPush: any },
        swoole: { enabled: true, ...any },
      }),
    );
    const dataDir = join(dir, 'data');
    const p = runHerald(['start', '--profile', 'workerman', '--config', cfg, '--data-dir', dataDir]);
    // Reconnecting at once, so that a process that still took handshakes while draining would get them back.
    const eager = { reconnection: true, reconnectionDelay: 0, reconnectionDelayMax: 0, randomizationFactor: 0 };
    const sio: SioClient[] = [];
    const agent = new Agent({ keepAlive: true });
    try {
      const open = await p.waitLog((l) => typeof l.compat === 'object' && l.compat !== null);
      const ports = open.compat as Record<'websocket' | 'socketio' | 'swoole', { port: number }>;
      const url = (await p.waitLog((l) => typeof l.http === 'string')).http as string;

      const tok = await runHeraldOnce(['token', 'u1', '--data-dir', dataDir]);
      assert.equal(tok.code, 0, tok.stderr);
      const native = await TestClient.welcome(`${url.replace(/^http/, 'ws')}/ws`, tok.stdout.trim());
      const page = await RawWsClient.open(`ws://127.0.0.1:${ports.websocket.port}`);
      page.ws.send('u1');
      const plain = await RawWsClient.open(`ws://127.0.0.1:${ports.swoole.port}`);
      sio.push(await SioClient.login(ports.socketio.port, 4, 'u1', { ...eager, transports: ['websocket'] }));
      // Keep-alive, as a browser polls: a stopping server that closed its listening socket can still get handshakes
      // on connections already open.
      sio.push(await SioClient.login(ports.socketio.port, 2, 'u1', { ...eager, transports: ['polling'], agent }));
      let connects = 0;
      for (const c of sio) c.socket.on('connect', () => connects++);

      p.child.kill('SIGTERM');
      assert.equal(await native.closed(), CloseCode.Shutdown);
      // Before its 4000, a native client is told the window to come back in: one client at the default 3,000 per
      // second is the half-second floor (docs/protocol.md, section 7).
      assert.deepEqual(
        native.frames.find((f) => f.type === 'shutdown'),
        { type: 'shutdown', reconnectWithin: 500 },
      );
      assert.equal(await page.closed, 1001);
      assert.equal(await plain.closed, 1001, 'the swoole page');
      // Reasons after which a client reconnects by itself ('io server disconnect' would keep it away for good). A
      // polling client between two polls learns of the closed session from its next request: 'transport error'.
      assert.equal(await sio[0]?.disconnects.next(), 'transport close', 'socket.io 4, websocket');
      assert.match(String(await sio[1]?.disconnects.next()), /^transport (close|error)$/, 'socket.io 2, polling');
      const exit = await p.exited;
      assert.equal(exit.code, 0, 'a clean exit, not the forced one');
      assert.equal(connects, 0, 'no Socket.IO page got a new session from the stopping process');

      const phases = p.logs.map((l) => String(l.msg)).filter((m) => m.startsWith('shutdown') || m.startsWith('shutting down'));
      assert.deepEqual(phases, [
        'shutting down: clients are told to reconnect',
        'shutdown: no new connections accepted',
        'shutdown: every client told to reconnect has gone',
        'shutdown: complete',
      ]);
    } finally {
      for (const c of sio) c.close();
      agent.destroy();
      p.child.kill('SIGKILL');
    }
  });
});
