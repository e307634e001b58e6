import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UpgradeRequest } from '../../net/websocket/handshake.ts';
import type { Duplex } from 'node:stream';
import type { Context } from '../../context.ts';
import { appChannelPrefix, type PusherApp } from '../../config/pusher.ts';
import { STOPPING_RESPONSE, type Transport } from '../common/transport.ts';
import { PusherEndpoint } from './endpoint.ts';
import { PusherHttpApi } from './http-api.ts';
import { AppNames } from './names.ts';
import { listenForRelays } from './relay.ts';
import { RESUMABLE_PATH } from './resume.ts';

const APP_PATH = '/app/';
const API_PATH = '/apps/';
const WEBHOOK_FLUSH_MS = 3000;

/**
 * The Pusher protocol on Herald's main port (docs/pusher.md), as Pusher's own servers and Reverb serve it: the
 * WebSocket at `/app/<key>` for pusher-js / Laravel Echo, and the HTTP API at `/apps/<id>/…` for the server SDKs
 * (Laravel's `pusher` and `reverb` broadcasters), on one host and port, for every configured app: each app has its
 * own endpoint (connections, presence, limits) and its own channel namespace in the one hub.
 */
export function createPusherTransport(ctx: Context, apps: readonly PusherApp[]): Transport {
  const byKey = new Map<string, PusherEndpoint>();
  const byId = new Map<string, PusherHttpApi>();
  const endpoints: PusherEndpoint[] = [];
  listenForRelays(ctx);
  apps.forEach((app, i) => {
    const endpoint = new PusherEndpoint(ctx, app, new AppNames(appChannelPrefix(app, i)));
    endpoints.push(endpoint);
    byKey.set(app.key, endpoint);
    byId.set(app.id, new PusherHttpApi(endpoint, ctx.config.pusher.timestampWindowSeconds));
  });
  let stopping = false;
  return {
    name: 'pusher',
    upgrade(req: UpgradeRequest, socket: Duplex, head: Buffer, url: URL): boolean {
      let p = url.pathname;
      // `/herald/app/<key>`: Herald's Echo connector, which resumes its channels (resume.ts).
      const resumable = p.startsWith(RESUMABLE_PATH + APP_PATH);
      if (resumable) p = p.slice(RESUMABLE_PATH.length);
      if (!p.startsWith(APP_PATH) || p.length === APP_PATH.length || p.indexOf('/', APP_PATH.length) >= 0) return false;
      if (stopping) {
        socket.end(STOPPING_RESPONSE);
        return true;
      }
      const endpoint = byKey.get(decodeKey(p.slice(APP_PATH.length)));
      // An unknown key is refused after the handshake, with 4001, as pusher-js expects (it then stops retrying).
      (endpoint ?? endpoints[0]!).handleUpgrade(req, socket, head, url, endpoint !== undefined, resumable);
      return true;
    },
    request(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
      if (!url.pathname.startsWith(API_PATH)) return false;
      const id = url.pathname.slice(API_PATH.length).split('/', 1)[0]!;
      const api = byId.get(id);
      if (api !== undefined) api.handle(req, res, url);
      else PusherHttpApi.unknownApp(ctx, req, res, id);
      return true;
    },
    stop() {
      stopping = true;
    },
    drain: async (timeoutMs) => (await Promise.all(endpoints.map((e) => e.drain(timeoutMs)))).reduce((a, b) => a + b, 0),
    async close() {
      // Webhooks still queued (the last channel_vacated, member_removed) get a few seconds to reach the app.
      await Promise.all(endpoints.map((e) => e.close(WEBHOOK_FLUSH_MS)));
    },
  };
}

function decodeKey(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
