// Herald under the bench driver: the server runs in this process (same code as `herald start`), and the driver's
// broadcast publishes go through the publish operation, the path the HTTP API and the line port call.
//   node --expose-gc --import tsx bench/peers/herald.ts <port> <linePort> <memory|sqlite> <dataDir>
import { pino } from 'pino';
import { createOperations } from '../../src/api/operations.ts';
import { createHerald } from '../../src/server.ts';
// @ts-expect-error plain JS module shared with the Node and Bun peers
import { runDriver } from './driver.mjs';

const [port = '0', linePort = '0', store = 'memory', dataDir = '/tmp/herald-bench'] = process.argv.slice(2);
const server = createHerald({
  env: process.env,
  cwd: dataDir,
  logger: pino({ level: process.env.HERALD_LOG_LEVEL ?? 'warn' }),
  overrides: {
    host: '127.0.0.1',
    port: Number(port),
    dataDir,
    store: { type: store === 'sqlite' ? 'sqlite' : 'memory' },
    apiKey: process.env.HERALD_API_KEY,
    tokenSecret: process.env.HERALD_TOKEN_SECRET,
    line: { enabled: true, host: '127.0.0.1', port: Number(linePort) },
  },
});
await server.listen();
const ops = createOperations(server.context);
const publish = ops.publish!;
const onError = (err: unknown): void => {
  process.stderr.write(`publish failed: ${String(err)}\n`);
};
process.stdout.write(`${JSON.stringify({ event: 'ready', port: Number(new URL(server.url).port), linePort: server.linePort })}\n`);
runDriver({
  publish(data: { t: number; text: string }) {
    const r = publish({ to: { all: true }, data });
    if (r instanceof Promise) r.catch(onError);
  },
  gc: (globalThis as { gc?: () => void }).gc,
  close: () => server.close(),
});
