// A server under test and its clients: start a variant (with its clock calibrated against ours), and open N
// connections to it with the C load client.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Variant } from '../peers.ts';
import { nowUs, RESULTS, settle } from './config.ts';
import { Proc, type Msg } from './proc.ts';

let wsloadBin = '';
export const setLoadClient = (bin: string): void => {
  wsloadBin = bin;
};
export const loadClient = (): string => wsloadBin;

// Below the ephemeral range (32768-60999 on Linux), where the load client's own connections take their ports.
let portSeq = 20_000 + Math.floor(Math.random() * 1000) * 10;

/** The next port from portSeq that nothing listens on now. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = portSeq++;
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

export interface Server {
  srv: Proc;
  /** HTTP port (publish API). */
  port: number;
  linePort: number;
  /** Where the clients connect (the HTTP port, or the variant's own client listener). */
  clientPort: number;
  /** herald-compat: the Workerman Text push port (5678 in the profile). */
  textPort?: number;
  /** The store the server reports it runs on (Herald only). */
  store?: string;
}

export async function startServer(v: Variant): Promise<Server> {
  const ports = { http: await freePort(), line: await freePort(), client: await freePort() };
  const srv = v.start(ports);
  const ready = await srv.wait('ready', 30_000);
  // Calibrate the server's clock against ours (a no-op for Node, whose hrtime is CLOCK_MONOTONIC).
  let best = { rtt: Infinity, offset: 0 };
  for (let i = 0; i < 5; i++) {
    const a = nowUs();
    const m = await srv.ask('clock', 'clock');
    const b = nowUs();
    if (b - a < best.rtt) best = { rtt: b - a, offset: Math.round((a + b) / 2 - Number(m.us)) };
  }
  await srv.ask(`offset ${best.offset}`, 'offset');
  return {
    srv,
    port: ports.http,
    linePort: ports.line,
    clientPort: Number(ready.clientPort ?? ports.http),
    ...(ready.textPort === undefined ? {} : { textPort: Number(ready.textPort) }),
    ...(typeof ready.store === 'string' ? { store: ready.store } : {}),
  };
}

/** Opens n connections (256 handshakes in flight) and waits until all are up (or failed). */
export async function openClients(v: Variant, s: Server, n: number, timeoutMs = 120_000): Promise<{ cli: Proc; connected: Msg }> {
  const file = join(RESULTS, '.bin', `paths-${v.name}-${n}.txt`);
  writeFileSync(file, `${(await v.paths(n)).join('\n')}\n`);
  const cli = new Proc(wsloadBin, [v.proto, '127.0.0.1', String(s.clientPort), file, String(n), '256'], { cpu: 1 });
  const connected = await cli.wait('connected', timeoutMs);
  await settle(300); // welcome frames, logins
  return { cli, connected };
}
