import type { OperationName } from '../operations.ts';

/** HTTP framing of the operations in ../operations.ts: method, path pattern, and where parameters come from. */
export interface Route {
  method: 'GET' | 'POST';
  /** Path segments; `:name` segments become input fields (URL-decoded). */
  path: string[];
  op: OperationName;
}

const r = (method: Route['method'], path: string, op: OperationName): Route => ({ method, path: path.split('/').filter(Boolean), op });

export const ROUTES: Route[] = [
  r('POST', '/api/publish', 'publish'),
  r('POST', '/api/publish/batch', 'publishBatch'),
  r('GET', '/api/users', 'users'),
  r('GET', '/api/users/:user', 'user'),
  r('POST', '/api/users/:user/subscribe', 'subscribe'),
  r('POST', '/api/users/:user/unsubscribe', 'unsubscribe'),
  r('POST', '/api/users/:user/disconnect', 'disconnect'),
  r('GET', '/api/channels', 'channels'),
  r('GET', '/api/channels/:channel', 'channel'),
  r('GET', '/api/users/:user/connections', 'userConnections'),
  r('GET', '/api/channels/:channel/connections', 'channelConnections'),
  r('POST', '/api/channels/:channel/dissolve', 'dissolve'),
  r('GET', '/api/connections/:connection', 'connection'),
  r('POST', '/api/connections/:connection/bind', 'bind'),
  r('POST', '/api/connections/:connection/unbind', 'unbind'),
  r('POST', '/api/connections/:connection/join', 'join'),
  r('POST', '/api/connections/:connection/leave', 'leave'),
  r('GET', '/api/connections/:connection/session', 'session'),
  r('POST', '/api/connections/:connection/session', 'setSession'),
  r('POST', '/api/connections/:connection/close', 'close'),
  r('GET', '/api/stats', 'stats'),
];

export type RouteMatch = { route: Route; params: Record<string, string> } | { route: undefined; allowed: string[] };

export function matchRoute(method: string, pathname: string): RouteMatch {
  const segs = pathname.split('/').filter(Boolean);
  const allowed: string[] = [];
  for (const route of ROUTES) {
    if (route.path.length !== segs.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < segs.length && ok; i++) {
      const p = route.path[i]!;
      if (p.startsWith(':')) {
        try {
          params[p.slice(1)] = decodeURIComponent(segs[i]!);
        } catch {
          ok = false;
        }
      } else ok = p === segs[i];
    }
    if (!ok) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  return { route: undefined, allowed };
}
