import { pino } from 'pino';
import { createHerald } from '../src/server.ts';
import { createOperations } from '../src/api/operations.ts';
const s = createHerald({ env: {}, logger: pino({ level: 'silent' }), overrides: { host: '127.0.0.1', port: 0, dataDir: '/tmp/bb', store: { type: 'memory' }, apiKey: 'test-api-key-0123456789', tokenSecret: 'test-token-secret-0123456789abcdef0123456789', line: { enabled: false } } });
await s.listen();
const ops = createOperations(s.context);
const body = { messages: Array.from({ length: 500 }, (_, i) => ({ to: { user: `u${i % 100}` }, data: { i, text: 'a typical small message' } })) };
for (let w = 0; w < 20; w++) await ops.publishBatch!(body);
const t0 = performance.now();
for (let r = 0; r < 200; r++) await ops.publishBatch!(body);
const ms = performance.now() - t0;
console.log('batch op', Math.round(100000 / (ms / 1000)), 'msgs/s');
const t1 = performance.now();
for (let r = 0; r < 20; r++) {
  const res = await fetch(`${s.url}/api/publish/batch`, { method: 'POST', headers: { authorization: 'Bearer test-api-key-0123456789' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
}
console.log('batch http', Math.round(10000 / ((performance.now() - t1) / 1000)), 'msgs/s');
await s.close(); process.exit(0);
