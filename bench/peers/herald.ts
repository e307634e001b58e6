// Herald under the bench driver: the server runs in this process (same code as `herald start`), and the driver's
// broadcast publishes go through the publish operation, the path the HTTP API and the line port call.
//   node --expose-gc --import tsx bench/peers/herald.ts <port> <linePort> <memory|sqlite> <dataDir> [--socketio <port>] [--no-fast-lane] [--pusher]
//        [--workerman <clientPort> <textPort>]
// With --socketio, Herald runs with the Workerman profile (its compatibility listeners), the Socket.IO listener
// (2120 in the profile) on the given port and the profile's other listeners on free ports, all on 127.0.0.1; the
// ready line then names that port as `clientPort`, where the bench's EIO3 clients connect. With --no-fast-lane,
// `http.fastLane: false`: every HTTP request through Node's server. With --pusher, the Pusher app PUSHER_APP
// (bench/lib/config.ts) is served on the main port, with no replay window on its HTTP API (the bench pre-signs one
// request), and the driver publishes to channel `news` (event `tick`), where the bench's Pusher clients subscribe.
// With --workerman, Herald runs as `herald start --profile workerman` does (every listener of the profile, the store
// left at its default, SQLite), with the uid websocket (1234 in the profile) on <clientPort> and the Text push port
// (5678) on <textPort>, the other listeners (Herald's own line port too) on free ports; the ready line names them
// as `clientPort` and `textPort`, and the store. The bench's pushes then come through the Text port, not the driver.
import { pino } from 'pino';
import { createOperations } from '../../src/api/operations.ts';
import { createHerald } from '../../src/server.ts';
import { PUSHER_APP } from '../lib/config.ts';
// @ts-expect-error plain JS module shared with the Node and Bun peers
import { runDriver } from './driver.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--socketio');
const socketioPort = at >= 0 ? Number(args.splice(at, 2)[1]) : undefined;
const noFastLane = args.includes('--no-fast-lane');
if (noFastLane) args.splice(args.indexOf('--no-fast-lane'), 1);
const pusher = args.includes('--pusher');
if (pusher) args.splice(args.indexOf('--pusher'), 1);
const wm = args.indexOf('--workerman');
const [wsPort, textPort] = wm >= 0 ? args.splice(wm, 3).slice(1).map(Number) : [];
const [port = '0', linePort = '0', store = 'memory', dataDir = '/tmp/herald-bench'] = args;
const local = (p: number) => ({ host: '127.0.0.1', port: p });
const server = createHerald({
  env: process.env,
  cwd: dataDir,
  logger: pino({ level: process.env.HERALD_LOG_LEVEL ?? 'warn' }),
  overrides: {
    host: '127.0.0.1',
    port: Number(port),
    dataDir,
    ...(textPort === undefined ? { store: { type: store === 'sqlite' ? ('sqlite' as const) : ('memory' as const) } } : {}),
    apiKey: process.env.HERALD_API_KEY,
    tokenSecret: process.env.HERALD_TOKEN_SECRET,
    line: { enabled: true, host: '127.0.0.1', port: textPort === undefined ? Number(linePort) : 0 },
    http: { fastLane: !noFastLane },
    ...(pusher ? { pusher: { apps: [{ ...PUSHER_APP }], timestampWindowSeconds: 0 } } : {}),
    ...(textPort === undefined
      ? {}
      : {
          profile: 'workerman' as const,
          compat: { websocket: local(wsPort!), text: local(textPort), socketio: local(0), httpPush: local(0) },
        }),
    ...(socketioPort === undefined
      ? {}
      : {
          profile: 'workerman' as const,
          // The load client's thousands of pages come from 8 loopback addresses: the per-address handshake
          // bounds, there to stop one looping client, would refuse most of them.
          compat: {
            socketio: { ...local(socketioPort), maxHandshakesPerAddress: 0, maxAnonymousPerAddress: 0 },
            websocket: local(0),
            text: local(0),
            httpPush: local(0),
          },
        }),
  },
});
await server.listen();
const ops = createOperations(server.context);
const publish = ops.publish!;
const onError = (err: unknown): void => {
  process.stderr.write(`publish failed: ${String(err)}\n`);
};
const bound = server.addresses();
const clientPort = socketioPort !== undefined ? bound.socketio?.port : textPort !== undefined ? bound.websocket?.port : undefined;
const ready = {
  event: 'ready',
  port: Number(new URL(server.url).port),
  linePort: server.linePort,
  clientPort,
  textPort: bound.text?.port,
  store: server.context.config.store.type,
};
process.stdout.write(`${JSON.stringify(ready)}\n`);
runDriver({
  publish(data: { t: number; text: string }) {
    const r = publish(pusher ? { to: { channel: 'news' }, event: 'tick', data } : { to: { all: true }, data });
    if (r instanceof Promise) r.catch(onError);
  },
  gc: (globalThis as { gc?: () => void }).gc,
  close: () => server.close(),
});
