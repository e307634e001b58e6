/**
 * Recognises the one kind of request the HTTP fast lane serves (fast-lane.ts), byte by byte as the bytes arrive.
 *
 * The rule: what this accepts, llhttp and Node's server accept too, with the same framing, so a request executed
 * here is one Herald's Node path would have executed. It accepts only a strict subset of HTTP/1.1:
 *
 * - the request line `POST /api/publish HTTP/1.1` or `POST /api/publish/batch HTTP/1.1`, CRLF;
 * - header lines `name:value` CRLF, the name all tchar (RFC 9110), the value only HTAB, SP, VCHAR and obs-text,
 *   trimmed of SP and HTAB only (not `trim()`, which also strips VT, NBSP and other bytes llhttp rejects);
 * - exactly one Content-Length of digits, at most `maxBody`; one Host (Node answers 400 without it); at most one
 *   Authorization; Connection, if present, exactly `close` or `keep-alive`;
 * - no Transfer-Encoding, Expect, Upgrade or Proxy-Connection (llhttp reads the last as Connection), at most
 *   `MAX_FAST_HEADERS` header lines and `MAX_FAST_HEAD` bytes.
 *
 * And, for WebSocket handshakes (served by the same lane since they are most of what a busy server accepts):
 *
 * - the request line `GET <target> HTTP/1.1`, the target origin-form of unreserved, sub-delims, `%:@/?` only;
 * - the same header lines, no name twice (so Node's `headers` object is exactly the lines, names lower-cased),
 *   at least one Host, an Upgrade with a value, Connection a comma-separated list of tokens (spaces after a
 *   comma only) holding `upgrade`; no Content-Length, Transfer-Encoding, Expect or Proxy-Connection.
 *
 * Anything else is `other`, decided on the first byte that leaves the subset (a bare LF, a CR not followed by LF,
 * a control byte, a space in a name), and the connection goes to Node's HTTP server with the bytes read, which
 * accepts, rejects or waits as llhttp does. So this parser never decides an edge case of HTTP itself; being
 * conservative costs only speed. test/unit/fast-lane-differential.test.ts holds it to that against llhttp.
 */

export interface FastRequest {
  op: 'publish' | 'publishBatch';
  /** The Authorization header value, if any. */
  authorization: string | undefined;
  /** The head's length in bytes (the body starts there), and the body's (Content-Length). */
  headLength: number;
  bodyLength: number;
  /** `Connection: close`: answer, then end the connection. */
  close: boolean;
}

/** A WebSocket handshake the lane recognised: what Node's 'upgrade' event would have given as `req`. */
export interface UpgradeHead {
  op: 'upgrade';
  url: string;
  /** Names lower-cased, no name twice (as Node's `IncomingMessage.headers` for such a head). */
  headers: Record<string, string>;
  /** Names as sent, then values: Node's `rawHeaders`. */
  rawHeaders: string[];
  headLength: number;
}

/** Heads larger than this go to Node (which answers 431 only past its own, larger, limit). */
export const MAX_FAST_HEAD = 8192;
/** Header lines beyond this go to Node (whose `maxHeadersCount`, 2000, drops later headers such as Host). */
export const MAX_FAST_HEADERS = 64;

const PUBLISH = Buffer.from('POST /api/publish HTTP/1.1\r\n', 'latin1');
const GET = Buffer.from('GET /', 'latin1');
const VERSION = Buffer.from(' HTTP/1.1\r\n', 'latin1');
const BATCH = Buffer.from('POST /api/publish/batch HTTP/1.1\r\n', 'latin1');

/** Byte classes: 1 = tchar (may be in a header name, and in a value), 2 = other value byte (HTAB, SP, delimiters, obs-text). */
const CLASS = new Uint8Array(256);
for (let b = 0x21; b <= 0x7e; b++) CLASS[b] = 2;
for (let b = 0x80; b <= 0xff; b++) CLASS[b] = 2;
CLASS[0x09] = 2;
CLASS[0x20] = 2;
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") CLASS[c.charCodeAt(0)] = 1;

/** Bytes of an upgrade's request target: RFC 3986 unreserved, sub-delims, `%`, `:`, `@`, `/`, `?`. */
const TARGET = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=%:@/?") TARGET[c.charCodeAt(0)] = 1;

const enum State {
  RequestLine,
  /** An upgrade's request target, after `GET /`. */
  Target,
  /** ` HTTP/1.1` CRLF after the target. */
  Version,
  NameStart,
  Name,
  Value,
  /** A Content-Length value: llhttp refuses a non-digit there on arrival, so the lane must not wait on one. */
  LengthOws,
  LengthDigits,
  ValueCr,
  EndCr,
}

/** The header fields the lane reads; any other is checked for its bytes only. */
const enum Field {
  Other,
  Host,
  Length,
  Authorization,
  Connection,
  /** Transfer-Encoding, Expect, Upgrade, Proxy-Connection (llhttp reads it as Connection): for Node. */
  Refused,
  Upgrade,
}

const FIELDS = new Map<string, Field>([
  ['host', Field.Host],
  ['content-length', Field.Length],
  ['authorization', Field.Authorization],
  ['connection', Field.Connection],
  ['transfer-encoding', Field.Refused],
  ['expect', Field.Refused],
  ['upgrade', Field.Upgrade],
  ['proxy-connection', Field.Refused],
]);

/** A Connection value llhttp reads as holding the `upgrade` token, in the plainest spelling only. */
const UPGRADE_LIST = /^(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+, *)*upgrade(?:, *[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*$/i;

const isOws = (b: number): boolean => b === 0x20 || b === 0x09;
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;

/**
 * The state of one request head being recognised. `scan` resumes where the previous call stopped, so a head that
 * arrives a byte at a time costs one pass over its bytes, not one per arrival.
 */
export class FastHead {
  private state = State.RequestLine;
  /** Bytes of the head examined so far, counted from its start. */
  private pos = 0;
  /** Which request lines are still possible: bit 1 publish, bit 2 batch, bit 4 an upgrade's GET. */
  private lines = 7;
  /** The upgrade being read (lines === 4 past `GET /`): its target's end, and its header lines so far. */
  private targetEnd = 0;
  private raw: string[] | undefined;
  private upgradeValue = false;
  private lineStart = 0;
  private colon = 0;
  private field = Field.Other;
  private digits = 0;
  private headers = 0;
  private length = -1;
  private host = false;
  private authorization: string | undefined;
  private close = false;
  private connection = false;

  /** Starts over, for the next request on the connection. */
  reset(): void {
    this.state = State.RequestLine;
    this.pos = 0;
    this.lines = 7;
    this.raw = undefined;
    this.upgradeValue = false;
    this.headers = 0;
    this.length = -1;
    this.host = false;
    this.authorization = undefined;
    this.close = false;
    this.connection = false;
  }

  /**
   * Examines the head that starts at `buf[start]`, the bytes up to `end` (the same head, maybe with more bytes
   * than last time). `partial`: every byte so far fits and the head is not complete. `other`: not for this lane.
   */
  scan(buf: Buffer, start: number, end: number, maxBody: number): FastRequest | UpgradeHead | 'partial' | 'other' {
    const stop = Math.min(end, start + MAX_FAST_HEAD);
    let i = start + this.pos;
    let state = this.state;
    for (; i < stop; i++) {
      const b = buf[i]!;
      switch (state) {
        case State.RequestLine: {
          const k = i - start;
          let lines = this.lines;
          if ((lines & 1) !== 0 && PUBLISH[k] !== b) lines &= 6;
          if ((lines & 2) !== 0 && BATCH[k] !== b) lines &= 5;
          if ((lines & 4) !== 0 && GET[k] !== b) lines &= 3;
          if (lines === 0) return 'other';
          this.lines = lines;
          if (lines === 4) {
            if (k + 1 === GET.length) {
              state = State.Target;
              this.raw = [];
            }
          } else if (k + 1 === ((lines & 1) !== 0 ? PUBLISH.length : BATCH.length)) {
            state = State.NameStart;
            this.lineStart = i + 1 - start;
          }
          break;
        }
        case State.Target:
          if (b === 0x20) {
            this.targetEnd = i - start;
            state = State.Version;
          } else if (TARGET[b] !== 1) return 'other';
          break;
        case State.Version:
          if (VERSION[i - start - this.targetEnd] !== b) return 'other';
          if (i - start - this.targetEnd + 1 === VERSION.length) {
            state = State.NameStart;
            this.lineStart = i + 1 - start;
          }
          break;
        case State.NameStart:
          if (b === 0x0d) state = State.EndCr;
          else if (CLASS[b] === 1) state = State.Name;
          else return 'other';
          break;
        case State.Name:
          if (b === 0x3a) {
            this.colon = i - start;
            if (!this.named(buf, start + this.lineStart, i)) return 'other';
            state = this.field === Field.Length ? State.LengthOws : State.Value;
          } else if (CLASS[b] !== 1) return 'other';
          break;
        case State.Value:
          if (b === 0x0d) state = State.ValueCr;
          else if (CLASS[b] === 0) return 'other';
          break;
        case State.LengthOws:
          if (isDigit(b)) {
            this.digits = 1;
            state = State.LengthDigits;
          } else if (!isOws(b)) return 'other';
          break;
        case State.LengthDigits:
          if (b === 0x0d) state = State.ValueCr;
          else if (!isDigit(b) || ++this.digits > 15) return 'other';
          break;
        case State.ValueCr:
          if (b !== 0x0a || ++this.headers > MAX_FAST_HEADERS || !this.header(buf, start, i - 1)) return 'other';
          this.lineStart = i + 1 - start;
          state = State.NameStart;
          break;
        case State.EndCr: {
          if (this.raw !== undefined) return b === 0x0a ? this.upgrade(buf, start, i + 1 - start) : 'other';
          if (b !== 0x0a || this.length < 0 || this.length > maxBody || !this.host) return 'other';
          this.state = state;
          this.pos = i + 1 - start;
          const op = (this.lines & 1) !== 0 ? 'publish' : 'publishBatch';
          return { op, authorization: this.authorization, headLength: this.pos, bodyLength: this.length, close: this.close };
        }
      }
    }
    this.state = state;
    this.pos = i - start;
    return end - start >= MAX_FAST_HEAD ? 'other' : 'partial';
  }

  /** A header name, `buf[from, to)`, just complete: false if the request is not for this lane. */
  private named(buf: Buffer, from: number, to: number): boolean {
    const n = to - from;
    // By length first, so most lines cost no string at all.
    const field =
      n === 4 || n === 6 || n === 7 || n === 10 || n === 13 || n === 14 || n === 16 || n === 17
        ? (FIELDS.get(buf.toString('latin1', from, to).toLowerCase()) ?? Field.Other)
        : Field.Other;
    this.field = field;
    if (this.raw !== undefined) {
      // A handshake: no name twice (checked when the line is complete), and no body or framing of its own.
      return field !== Field.Length && field !== Field.Refused;
    }
    switch (field) {
      case Field.Upgrade:
        return false;
      case Field.Host:
        return !this.host;
      case Field.Length:
        return this.length < 0;
      case Field.Authorization:
        return this.authorization === undefined;
      case Field.Connection:
        return !this.connection;
      case Field.Refused:
        return false;
      default:
        return true;
    }
  }

  /** One complete header line, `crAt` its CR; false if the request is not for this lane. */
  private header(buf: Buffer, start: number, crAt: number): boolean {
    let v = start + this.colon + 1;
    let e = crAt;
    while (v < e && isOws(buf[v]!)) v++;
    while (e > v && isOws(buf[e - 1]!)) e--;
    const raw = this.raw;
    if (raw !== undefined) {
      raw.push(buf.toString('latin1', start + this.lineStart, start + this.colon), buf.toString('latin1', v, e));
      switch (this.field) {
        case Field.Host:
          this.host = true;
          return true;
        case Field.Upgrade:
          this.upgradeValue = e > v;
          return true;
        case Field.Connection:
          this.connection = true;
          return e === crAt && UPGRADE_LIST.test(raw[raw.length - 1]!);
        default:
          return true;
      }
    }
    switch (this.field) {
      case Field.Host:
        this.host = true;
        return true;
      case Field.Length: {
        // The bytes are digits (State.LengthDigits).
        let len = 0;
        for (let k = v; k < e; k++) len = len * 10 + buf[k]! - 0x30;
        this.length = len;
        return true;
      }
      case Field.Authorization:
        this.authorization = buf.toString('latin1', v, e);
        return true;
      case Field.Connection: {
        this.connection = true;
        // llhttp reads `close` followed by a tab as keep-alive: no trailing whitespace is taken here.
        if (e !== crAt) return false;
        const value = buf.toString('latin1', v, e).toLowerCase();
        if (value === 'close') this.close = true;
        return value === 'close' || value === 'keep-alive';
      }
      default:
        return true;
    }
  }

  /** The handshake's head is complete (`length` bytes): the request Node would emit as 'upgrade', or not for the lane. */
  private upgrade(buf: Buffer, start: number, length: number): UpgradeHead | 'other' {
    const raw = this.raw!;
    if (!this.host || !this.upgradeValue || !this.connection) return 'other';
    const headers: Record<string, string> = {};
    for (let k = 0; k < raw.length; k += 2) {
      const name = raw[k]!.toLowerCase();
      if (headers[name] !== undefined) return 'other';
      headers[name] = raw[k + 1]!;
    }
    // The target starts at the `/` of `GET /`.
    const url = buf.toString('latin1', start + GET.length - 1, start + this.targetEnd);
    return { op: 'upgrade', url, headers, rawHeaders: raw, headLength: length };
  }
}
