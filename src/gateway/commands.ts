// What the gateway does for each command that is not a query (reference §6.1-6.4): sends, closes, uid and group
// membership, sessions. Sends that a stored publish can carry go through the dispatcher (so native clients of the
// same user or channel get them too); the rest are written to gateway clients directly, as the original does.
import { isUtf8 } from 'node:buffer';
import type { PublishRequest } from '../core/dispatcher.ts';
import { Cmd, Flag, type GatewayFrame } from '../protocol/gatewayworker/index.ts';
import { arrayReplaceRecursive, PhpArray, serialize, tryUnserialize } from '../protocol/php/index.ts';
import type { GatewayConn } from '../transports/gateway/types.ts';
import { groupChannel, isEmptyKey, keyOfBytes, keyOfJson } from './keys.ts';
import type { GatewayState } from './state.ts';

/**
 * The bytes a send delivers: the body itself when it is a scalar's string form, the string inside a serialized
 * body; undefined for null (KICK without a message) and for what the original cannot send (arrays, bad bytes).
 */
export function messageOf(frame: GatewayFrame): Buffer | undefined {
  if (frame.flag & Flag.BODY_IS_SCALAR) return frame.body;
  const res = tryUnserialize(frame.body);
  if (!res.ok) return undefined;
  const v = res.value;
  if (typeof v === 'string') return Buffer.from(v);
  if (Buffer.isBuffer(v)) return v;
  return undefined;
}

/** ext_data as JSON; undefined when it is not JSON (the original's json_decode gives null, and the command does nothing). */
export function json(ext: Buffer): unknown {
  try {
    return JSON.parse(ext.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The PHP key strings of a JSON list (or of a JSON object's values, as PHP's foreach reads either). */
export function keyList(v: unknown): string[] {
  const items = Array.isArray(v) ? v : isObject(v) ? Object.values(v) : [];
  const out: string[] = [];
  for (const item of items) {
    const k = keyOfJson(item);
    if (k !== undefined) out.push(k);
  }
  return out;
}

/** An exclude map's keys, or undefined when there is none (null, missing, empty). */
function excludeOf(v: unknown): Set<string> | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  return keys.length === 0 ? undefined : new Set(keys);
}

/**
 * The stored publish a send amounts to, or undefined when it must be written directly: raw (flag 0x02), a body
 * that is not UTF-8 text (a JSON string cannot carry it), an `exclude` or `connections` map, or a bad ext_data.
 * The published data is the body as a JSON string: gateway clients get its text, native clients a string.
 */
export function storedPublish(frame: GatewayFrame): PublishRequest | undefined {
  const { cmd } = frame;
  if ((cmd !== Cmd.SEND_TO_ALL && cmd !== Cmd.SEND_TO_UID && cmd !== Cmd.SEND_TO_GROUP) || frame.flag & Flag.NOT_CALL_ENCODE) return undefined;
  const body = messageOf(frame);
  if (body === undefined || !isUtf8(body)) return undefined;
  const data = JSON.stringify(body.toString('utf8'));
  if (cmd === Cmd.SEND_TO_ALL) {
    if (frame.extData.length === 0) return { to: { all: true }, data };
    const ext = json(frame.extData);
    if (!isObject(ext) || ext.connections !== undefined || excludeOf(ext.exclude) !== undefined) return undefined;
    return { to: { all: true }, data };
  }
  if (cmd === Cmd.SEND_TO_UID) {
    const users = keyList(json(frame.extData)).filter((u) => u !== '');
    return users.length === 0 ? undefined : { to: { users }, data };
  }
  const ext = json(frame.extData);
  if (!isObject(ext) || excludeOf(ext.exclude) !== undefined) return undefined;
  const channels = keyList(ext.group)
    .filter((g) => g !== '')
    .map(groupChannel);
  return channels.length === 0 ? undefined : { to: { channels }, data };
}

function isGateway(c: { transport: string }): c is GatewayConn {
  return c.transport === 'gateway';
}

/** Applies one non-query command; an unknown connection is a silent no-op (§6). */
export function applyCommand(gw: GatewayState, frame: GatewayFrame): void {
  const raw = (frame.flag & Flag.NOT_CALL_ENCODE) !== 0;
  const { hub } = gw;
  switch (frame.cmd) {
    case Cmd.SEND_TO_ONE: {
      const body = messageOf(frame);
      if (body !== undefined) gw.clients.get(frame.connectionId)?.send(body, raw);
      return;
    }
    case Cmd.SEND_TO_ALL: {
      const body = messageOf(frame);
      if (body === undefined) return;
      const ext = frame.extData.length === 0 ? {} : json(frame.extData);
      if (!isObject(ext)) return;
      if (ext.connections !== undefined) {
        for (const id of keyList(ext.connections)) gw.clients.get(Number(id))?.send(body, raw);
        return;
      }
      const exclude = excludeOf(ext.exclude);
      for (const [num, c] of gw.clients) if (exclude === undefined || !exclude.has(String(num))) c.send(body, raw);
      return;
    }
    case Cmd.SEND_TO_UID: {
      const body = messageOf(frame);
      if (body === undefined) return;
      for (const uid of keyList(json(frame.extData))) for (const c of hub.connectionsOf(uid)) if (isGateway(c)) c.send(body, raw);
      return;
    }
    case Cmd.SEND_TO_GROUP: {
      const body = messageOf(frame);
      const ext = json(frame.extData);
      if (body === undefined || !isObject(ext)) return;
      const exclude = excludeOf(ext.exclude);
      for (const g of keyList(ext.group)) {
        for (const c of hub.membersOf(groupChannel(g))) if (isGateway(c) && (exclude === undefined || !exclude.has(String(c.num)))) c.send(body, raw);
      }
      return;
    }
    case Cmd.UNGROUP: {
      const g = keyOfBytes(frame.extData);
      if (g === undefined || isEmptyKey(g)) return;
      const channel = groupChannel(g);
      for (const c of [...hub.membersOf(channel)]) if (isGateway(c)) hub.unsubscribe(c, channel);
      return;
    }
  }
  const conn = gw.clients.get(frame.connectionId);
  if (conn === undefined) return;
  switch (frame.cmd) {
    case Cmd.KICK:
      conn.kick(messageOf(frame));
      return;
    case Cmd.DESTROY:
      conn.destroy();
      return;
    case Cmd.BIND_UID: {
      const uid = keyOfBytes(frame.extData);
      if (uid === undefined || isEmptyKey(uid)) return;
      hub.bind(conn, uid);
      return;
    }
    case Cmd.UNBIND_UID:
      hub.bind(conn, '');
      return;
    case Cmd.JOIN_GROUP: {
      const g = keyOfBytes(frame.extData);
      if (g === undefined || isEmptyKey(g)) return;
      conn.grouped = true;
      if (!hub.subscribe(conn, groupChannel(g), gw.maxGroups))
        gw.log.warn({ group: g, limit: gw.maxGroups }, 'gateway: joinGroup refused, the client is in limits.maxChannelsPerConnection groups');
      return;
    }
    case Cmd.LEAVE_GROUP: {
      const g = keyOfBytes(frame.extData);
      if (g !== undefined && !isEmptyKey(g)) hub.unsubscribe(conn, groupChannel(g));
      return;
    }
    case Cmd.SET_SESSION:
      hub.setSession(conn, frame.extData.length === 0 ? undefined : { php: frame.extData.toString('latin1') });
      return;
    case Cmd.UPDATE_SESSION:
      updateSession(gw, conn, frame.extData);
      return;
  }
}

/**
 * §6.4: a falsy stored session ("" or "0") is replaced by the update as it is; otherwise both are parsed and
 * merged with array_replace_recursive. When either does not parse as an array (malformed, or holding objects,
 * which are never instantiated here), the original's merge throws a TypeError inside the gateway process and drops
 * every client; here the update is refused, the stored session kept, and a warning logged.
 */
function updateSession(gw: GatewayState, conn: GatewayConn, ext: Buffer): void {
  const stored = gw.sessionBytes(conn);
  if (stored.length === 0 || (stored.length === 1 && stored[0] === 0x30)) {
    gw.hub.setSession(conn, ext.length === 0 ? undefined : { php: ext.toString('latin1') });
    return;
  }
  const base = tryUnserialize(stored);
  const update = tryUnserialize(ext);
  if (!base.ok || !update.ok || !(base.value instanceof PhpArray) || !(update.value instanceof PhpArray)) {
    const why = !base.ok ? `stored session: ${base.error.message}` : !update.ok ? `update: ${update.error.message}` : 'not an array';
    gw.log.warn({ client: conn.num, err: why }, 'gateway: updateSession refused, a session does not parse as an array');
    return;
  }
  gw.hub.setSession(conn, { php: serialize(arrayReplaceRecursive(base.value, update.value)).toString('latin1') });
}
