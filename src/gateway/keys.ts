// uids and groups as GatewayWorker identifies them, and how groups become Herald channels.
//
// The original keys its uid and group sets by PHP array keys: a canonical decimal string is that int, so `1` and
// "1" are one group and "01" is another (§6.3). Here every uid and group is held as the string form of its PHP
// key, computed once where it enters (ext_data strings are already that form; JSON list items are converted by
// `keyOfJson`), so string equality is PHP key identity.
//
// Groups are Herald channels, so that a native client subscribed to `room1` and a GatewayWorker client in group
// `room1` get the same messages. A group whose key is a valid channel name (domain/streams.ts) and does not start
// with the reserved prefix `gw.` is that channel; any other (spaces, non-ASCII, longer than the channel limit,
// `gw.` itself...) is `gw.` followed by the hex of its UTF-8 bytes. The mapping is one-to-one both ways.
import { isUtf8 } from 'node:buffer';
import { isValidChannel } from '../domain/streams.ts';
import { phpInt, type PhpKey } from '../protocol/php/index.ts';

const ESCAPED = 'gw.';
const NUMERIC_KEY = /^(?:0|-?[1-9][0-9]{0,18})$/;

/** The channel of a group key. */
export function groupChannel(group: string): string {
  if (isValidChannel(group) && !group.startsWith(ESCAPED)) return group;
  return ESCAPED + Buffer.from(group, 'utf8').toString('hex');
}

/** The group key of a channel (the inverse of `groupChannel`). */
export function channelGroup(channel: string): string {
  return channel.startsWith(ESCAPED) ? Buffer.from(channel.slice(ESCAPED.length), 'hex').toString('utf8') : channel;
}

/**
 * The PHP key string of a JSON list item (the uid and group lists of cmds 14, 16, 22, 25, 28), as PHP turns an
 * array value into an array key: ints as their digits, floats truncated, true/false as 1/0, null as "". Undefined
 * for what PHP cannot use as a key (arrays, objects).
 */
export function keyOfJson(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(Math.trunc(v) === 0 ? 0 : Math.trunc(v)) : undefined;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (v === null) return '';
  return undefined;
}

/** The key as a reply writes it: canonical integers as ints (`i:2;`), anything else as a string. */
export function phpKeyOf(key: string): PhpKey {
  if (key.length <= 20 && NUMERIC_KEY.test(key)) {
    const n = phpInt(BigInt(key));
    if (n !== undefined) return n;
  }
  return key;
}

/** PHP's empty() for a key string: "" and "0" are ignored by bind, join, leave and ungroup (§6.3). */
export function isEmptyKey(key: string): boolean {
  return key === '' || key === '0';
}

/** ext_data as a key string; undefined for bytes that are not UTF-8 (no Herald user or channel can hold them). */
export function keyOfBytes(b: Buffer): string | undefined {
  return isUtf8(b) ? b.toString('utf8') : undefined;
}
