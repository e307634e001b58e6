// The queries of §6.5, answered with the exact PHP serialize() shapes and orders of the original. They answer for
// this gateway's clients only: a native client in a channel is not a GatewayWorker client (it has no client_id).
import { Cmd, type GatewayFrame } from '../protocol/gatewayworker/index.ts';
import { PhpArray, serialize, type PhpValue } from '../protocol/php/index.ts';
import type { GatewayConn } from '../transports/gateway/types.ts';
import { isObject, json, keyList } from './commands.ts';
import { channelGroup, groupChannel, keyOfBytes, phpKeyOf } from './keys.ts';
import type { GatewayState } from './state.ts';

const NULL = Buffer.from('N;');
const EMPTY_ARRAY = Buffer.from('a:0:{}');

function isGateway(c: { transport: string }): c is GatewayConn {
  return c.transport === 'gateway';
}

function membersOf(gw: GatewayState, group: string): GatewayConn[] {
  const out: GatewayConn[] = [];
  for (const c of gw.hub.membersOf(groupChannel(group))) if (isGateway(c)) out.push(c);
  return out;
}

/** A client's groups as the original keeps them: group key => the group string received in JOIN_GROUP. */
function groupsOf(c: GatewayConn): PhpValue {
  if (!c.grouped) return null;
  const out = new PhpArray();
  for (const ch of c.channels) {
    const g = channelGroup(ch);
    out.set(g, g);
  }
  return out;
}

/** The payload of the reply to a query frame (§3.2), or undefined when `frame` is no query. */
export function answerQuery(gw: GatewayState, frame: GatewayFrame): Buffer | undefined {
  switch (frame.cmd) {
    case Cmd.IS_ONLINE:
      return serialize(gw.clients.has(frame.connectionId) ? 1 : 0);
    case Cmd.GET_SESSION_BY_CLIENT_ID: {
      const c = gw.clients.get(frame.connectionId);
      if (c === undefined) return NULL;
      const s = gw.sessionBytes(c);
      return s.length === 0 ? EMPTY_ARRAY : s;
    }
    case Cmd.GET_CLIENT_COUNT_BY_GROUP: {
      if (frame.extData.length === 0) return serialize(gw.clients.size);
      const g = keyOfBytes(frame.extData);
      return serialize(g === undefined ? 0 : membersOf(gw, g).length);
    }
    case Cmd.BATCH_GET_CLIENT_COUNT_BY_GROUP: {
      const out = new PhpArray();
      for (const g of keyList(json(frame.extData))) out.set(g, membersOf(gw, g).length);
      return serialize(out);
    }
    case Cmd.GET_CLIENT_ID_BY_UID: {
      const uid = keyOfBytes(frame.extData);
      return serialize(uid === undefined ? new PhpArray() : idsOfUid(gw, uid));
    }
    case Cmd.BATCH_GET_CLIENT_ID_BY_UID: {
      const out = new PhpArray();
      for (const uid of keyList(json(frame.extData))) out.set(uid, idsOfUid(gw, uid));
      return serialize(out);
    }
    case Cmd.GET_GROUP_ID_LIST: {
      const out = new PhpArray();
      for (const [ch, members] of gw.hub.channels()) {
        for (const c of members) {
          if (!isGateway(c)) continue;
          out.push(phpKeyOf(channelGroup(ch)));
          break;
        }
      }
      return serialize(out);
    }
    case Cmd.GET_ALL_CLIENT_SESSIONS: {
      const out = new PhpArray();
      for (const [num, c] of gw.clients) out.set(num, gw.sessionBytes(c));
      return serialize(out);
    }
    case Cmd.GET_CLIENT_SESSIONS_BY_GROUP: {
      const out = new PhpArray();
      const g = keyOfBytes(frame.extData);
      if (g !== undefined) for (const c of membersOf(gw, g)) out.set(c.num, gw.sessionBytes(c));
      return serialize(out);
    }
    case Cmd.SELECT:
      return serialize(select(gw, json(frame.extData)));
  }
  return undefined;
}

function idsOfUid(gw: GatewayState, uid: string): PhpArray {
  const out = new PhpArray();
  if (uid === '') return out;
  for (const c of gw.hub.connectionsOf(uid)) if (isGateway(c)) out.push(c.num);
  return out;
}

/**
 * SELECT (25): `{"fields":[...],"where":...}`. Without `where`, every client in connect order; with it, the keys
 * of `where` in order, list items in order, members in join order, first occurrence wins. Not JSON: `a:0:{}`.
 */
function select(gw: GatewayState, req: unknown): PhpArray {
  const out = new PhpArray();
  if (!isObject(req)) return out;
  const fields = new Set(keyList(req.fields));
  const row = (c: GatewayConn): PhpArray => {
    const r = new PhpArray();
    if (fields.has('uid')) r.set('uid', c.user === '' ? null : c.user);
    if (fields.has('groups')) r.set('groups', groupsOf(c));
    if (fields.has('session')) r.set('session', gw.sessionBytes(c));
    return r;
  };
  const add = (c: GatewayConn | undefined): void => {
    if (c !== undefined && !out.has(c.num)) out.set(c.num, row(c));
  };
  const where = req.where;
  if (!isObject(where) || Object.keys(where).length === 0) {
    for (const c of gw.clients.values()) add(c);
    return out;
  }
  for (const [key, value] of Object.entries(where)) {
    if (key === 'groups') for (const g of keyList(value)) for (const c of membersOf(gw, g)) add(c);
    else if (key === 'uid') {
      for (const uid of keyList(value)) if (uid !== '') for (const c of gw.hub.connectionsOf(uid)) if (isGateway(c)) add(c);
    } else if (key === 'connection_id') for (const id of keyList(value)) add(gw.clients.get(Number(id)));
  }
  return out;
}
