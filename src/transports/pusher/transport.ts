import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context } from '../../context.ts';
import type { PusherApp } from '../../config/pusher.ts';
import { STOPPING_RESPONSE, type Transport } from '../common/transport.ts';
import { PusherEndpoint } from './endpoint.ts';
import { PusherHttpApi } from './http-api.ts';

const APP_PATH = '/app/';
const API_PATH = '/apps/';

/**
 * The Pusher protocol on Herald's main port (docs/pusher.md), as Pusher's own servers and Reverb serve it: the
 * WebSocket at `/app/<key>` for pusher-js / Laravel Echo, and the HTTP API at `/apps/<id>/…` for the server SDKs
 * (Laravel's `pusher` and `reverb` broadcasters), on one host and port.
 */
export function createPusherTransport(ctx: Context, app: PusherApp): Transport {
  const endpoint = new PusherEndpoint(ctx, app);
  const api = new PusherHttpApi(ctx, app, endpoint.members, ctx.config.pusher.timestampWindowSeconds);
  let stopping = false;
  return {
    name: 'pusher',
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean {
      const p = url.pathname;
      if (!p.startsWith(APP_PATH) || p.length === APP_PATH.length || p.indexOf('/', APP_PATH.length) >= 0) return false;
      if (stopping) socket.end(STOPPING_RESPONSE);
      else endpoint.handleUpgrade(req, socket, head, decodeKey(p.slice(APP_PATH.length)), url);
      return true;
    },
    request(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
      if (!url.pathname.startsWith(API_PATH)) return false;
      api.handle(req, res, url);
      return true;
    },
    stop() {
      stopping = true;
    },
    drain: (timeoutMs) => endpoint.drain(timeoutMs),
    close() {
      endpoint.close();
      return Promise.resolve();
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
