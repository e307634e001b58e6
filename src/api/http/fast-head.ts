/**
 * Recognises the one kind of request the HTTP fast lane serves (fast-lane.ts): `POST /api/publish` or
 * `POST /api/publish/batch`, HTTP/1.1, with a Content-Length body. Anything else, or anything unusual about such a
 * request (chunked body, Expect, Upgrade, a repeated Content-Length, folded headers, an oversize head), is `other`:
 * the connection then goes to Node's HTTP server, which answers it with full HTTP semantics. Being conservative
 * here costs nothing but speed, so this parser never has to decide an edge case of HTTP itself.
 */

export interface FastRequest {
  op: 'publish' | 'publishBatch';
  /** The Authorization header value, if any. */
  authorization: string | undefined;
  /** Where the body starts in the buffer, and its length (Content-Length). */
  bodyStart: number;
  bodyLength: number;
  /** `Connection: close`: answer, then end the connection. */
  close: boolean;
}

/** Heads larger than this go to Node (which answers 431 when they pass its own limit). */
export const MAX_FAST_HEAD = 8192;

const PUBLISH = 'POST /api/publish HTTP/1.1';
const BATCH = 'POST /api/publish/batch HTTP/1.1';
const CRLF2 = Buffer.from('\r\n\r\n');
const DIGITS = /^[0-9]{1,10}$/;

/**
 * Parses the request head that starts at `start`. `partial`: not all of the head is here yet (and nothing seen so
 * far rules it out). `other`: not for the fast lane. Bodies longer than `maxBody` are `other`, so Node answers 413.
 */
export function parseFastHead(buf: Buffer, start: number, maxBody: number): FastRequest | 'partial' | 'other' {
  const avail = buf.length - start;
  // Decide on the request line's prefix as early as possible, so other traffic is handed over on its first bytes.
  const probe = buf.toString('latin1', start, start + Math.min(avail, BATCH.length));
  if (!PUBLISH.startsWith(probe.slice(0, PUBLISH.length)) && !BATCH.startsWith(probe)) return 'other';
  const end = buf.indexOf(CRLF2, start);
  if (end === -1) return avail > MAX_FAST_HEAD ? 'other' : 'partial';
  if (end - start > MAX_FAST_HEAD) return 'other';
  const lines = buf.toString('latin1', start, end).split('\r\n');
  const op = lines[0] === PUBLISH ? 'publish' : lines[0] === BATCH ? 'publishBatch' : undefined;
  if (op === undefined) return 'other';
  let length: number | undefined;
  let authorization: string | undefined;
  let close = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    // Folded continuation lines, and whitespace before the colon, are for Node to reject.
    if (colon <= 0 || line.charCodeAt(0) <= 32 || line.charCodeAt(colon - 1) <= 32) return 'other';
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    switch (name) {
      case 'content-length':
        if (length !== undefined || !DIGITS.test(value)) return 'other';
        length = Number(value);
        break;
      case 'authorization':
        if (authorization !== undefined) return 'other';
        authorization = value;
        break;
      case 'connection': {
        const v = value.toLowerCase();
        if (v.includes('upgrade')) return 'other';
        close = v.includes('close');
        break;
      }
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
        return 'other';
    }
  }
  if (length === undefined || length > maxBody) return 'other';
  return { op, authorization, bodyStart: end + 4, bodyLength: length, close };
}
