// Herald with a backend of its own kind, for the gateway suite (bench/gateway.ts): the same server as
// `herald start --profile swoole` or `--profile gatewayworker`, every listener on 127.0.0.1.
//   node --expose-gc --import tsx bench/peers/herald-backend.ts swoole <clientPort> <webhookUrl> <dataDir>
//   node --expose-gc --import tsx bench/peers/herald-backend.ts gatewayworker <clientPort> <registerPort> <dataDir> <secret>
// Prints {"event":"ready","clientPort":...,"register"?:...,"inner"?:...} when listening, then obeys the bench driver
// (driver.mjs: gc, clock, quit); it publishes nothing itself: the traffic comes from the clients and the backend.
import { pino } from 'pino';
import { createHerald } from '../../src/server.ts';
// @ts-expect-error plain JS module shared with the Node and Bun peers
import { runDriver } from './driver.mjs';

const [profile, clientPort = '0', backend = '', dataDir = '/tmp/herald-bench', secret = ''] = process.argv.slice(2);
if (profile !== 'swoole' && profile !== 'gatewayworker') throw new Error(`profile must be swoole or gatewayworker, not ${profile}`);
const base = {
  host: '127.0.0.1',
  port: 0,
  dataDir,
  store: { type: 'memory' as const },
  apiKey: process.env.HERALD_API_KEY,
  tokenSecret: process.env.HERALD_TOKEN_SECRET,
  line: { enabled: false },
};
const overrides =
  profile === 'swoole'
    ? { ...base, profile: 'swoole' as const, swoole: { host: '127.0.0.1', port: Number(clientPort) }, webhook: { url: backend } }
    : {
        ...base,
        profile: 'gatewayworker' as const,
        gateway: { register: `127.0.0.1:${backend}`, listen: `websocket://127.0.0.1:${clientPort}`, startPort: 0, lanIp: '127.0.0.1', secret },
      };
const server = createHerald({ env: process.env, cwd: dataDir, logger: pino({ level: process.env.HERALD_LOG_LEVEL ?? 'warn' }), overrides });
await server.listen();
const a = server.addresses();
const ready =
  profile === 'swoole'
    ? { event: 'ready', clientPort: a.swoole?.port }
    : { event: 'ready', clientPort: a.gateway?.port, register: a.gatewayRegister?.port, inner: a.gatewayInner?.port };
process.stdout.write(`${JSON.stringify(ready)}\n`);
runDriver({
  publish: () => undefined,
  gc: (globalThis as { gc?: () => void }).gc,
  close: () => server.close(),
});
