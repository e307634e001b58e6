import { FastHead, type FastRequest, type UpgradeHead } from './fast-head.ts';

/** What `FastReader.push` decided about the bytes so far. */
export type ReadOutcome =
  /** Every request so far is served; the rest, if any, is the start of the next one. */
  | 'more'
  /** A `Connection: close` request was the last: later bytes are not read. */
  | 'closed'
  /** The bytes from here on are for Node's server: the request that starts them is not for the lane. */
  | { handOff: Buffer }
  /** A WebSocket handshake: the connection leaves HTTP, with `rest` (bytes after the head) as its first bytes. */
  | { upgrade: UpgradeHead; rest: Buffer };

/** A pending buffer up to this size is kept for the connection's next partial request. */
const KEEP_BUFFER = 16 * 1024;

/** Takes one request; `body` is only valid during the call (the buffer is reused). */
export type RequestSink = (head: FastRequest, body: Buffer, bodyStart: number, bodyEnd: number) => void;

/**
 * The fast lane's framing of one connection, without I/O: bytes in, requests out, or the point where the
 * connection leaves the lane. fast-lane.ts feeds it the socket's chunks; the differential test feeds it the same
 * bytes as llhttp.
 *
 * Cost is linear in the bytes received: a chunk is parsed where it lies when nothing is pending, bytes of an
 * incomplete request are appended to one buffer that grows by doubling (or to the size the Content-Length
 * announces), and the head is scanned once, resuming where the last chunk ended (`copied` counts the bytes moved,
 * for the test that holds this).
 */
export class FastReader {
  /** Bytes copied into the pending buffer so far. */
  copied = 0;
  /** Requests completed so far. */
  completed = 0;
  private readonly head = new FastHead();
  /** The request whose head is complete and whose body is not. */
  private request: FastRequest | undefined;
  private pending: Buffer | null = null;
  private start = 0;
  private end = 0;

  constructor(private readonly maxBody: number) {}

  /** Where the current request stands: no bytes of it yet, in its head, or in its body. */
  get phase(): 'idle' | 'head' | 'body' {
    if (this.request !== undefined) return 'body';
    return this.end > this.start ? 'head' : 'idle';
  }

  /** Reads `chunk`; calls `sink` for each complete request, in order. */
  push(chunk: Buffer, sink: RequestSink): ReadOutcome {
    let buf: Buffer;
    let pos: number;
    let end: number;
    if (this.end === this.start) {
      buf = chunk;
      pos = 0;
      end = chunk.length;
    } else {
      this.append(chunk);
      buf = this.pending!;
      pos = this.start;
      end = this.end;
    }
    while (pos < end) {
      let req = this.request;
      if (req === undefined) {
        const h = this.head.scan(buf, pos, end, this.maxBody);
        if (h === 'partial') break;
        if (h === 'other') return this.leave(buf, pos, end);
        if (h.op === 'upgrade') {
          this.completed++;
          const rest = Buffer.from(buf.subarray(pos + h.headLength, end));
          this.pending = null;
          this.start = this.end = 0;
          return { upgrade: h, rest };
        }
        req = this.request = h;
      }
      const bodyStart = pos + req.headLength;
      const bodyEnd = bodyStart + req.bodyLength;
      if (bodyEnd > end) break;
      this.request = undefined;
      this.head.reset();
      this.completed++;
      sink(req, buf, bodyStart, bodyEnd);
      pos = bodyEnd;
      if (req.close) {
        this.pending = null;
        this.start = this.end = 0;
        return 'closed';
      }
    }
    this.keep(buf, pos, end);
    return 'more';
  }

  /** Bytes received and not yet part of a complete request. */
  get buffered(): number {
    return this.end - this.start;
  }

  private leave(buf: Buffer, pos: number, end: number): ReadOutcome {
    const rest = buf.subarray(pos, end);
    this.pending = null;
    this.start = this.end = 0;
    return { handOff: rest };
  }

  /** Keeps `buf[pos, end)`, the start of a request, for the next chunk. */
  private keep(buf: Buffer, pos: number, end: number): void {
    if (buf === this.pending) {
      this.start = pos;
      if (pos === end) {
        this.start = this.end = 0;
        // An idle connection keeps no large buffer (a big body's): every WebSocket connection starts in this lane.
        if (buf.length > KEEP_BUFFER) this.pending = null;
      }
      return;
    }
    if (pos === end) return;
    // Only what is left of this chunk is copied; a pending buffer, if any, is empty here and is reused.
    this.start = this.end = 0;
    this.append(buf.subarray(pos, end));
  }

  private append(chunk: Buffer): void {
    const live = this.end - this.start;
    // Room for the whole announced request at once, so a large body is copied once, not once per doubling.
    const want = this.request === undefined ? live + chunk.length : Math.max(live + chunk.length, this.request.headLength + this.request.bodyLength);
    const p = this.pending;
    if (p !== null && this.end + chunk.length <= p.length) {
      chunk.copy(p, this.end);
    } else if (p !== null && want <= p.length && this.start >= p.length / 2) {
      // Most of the buffer is consumed requests: move the live bytes to the front (they are fewer than those freed).
      p.copy(p, 0, this.start, this.end);
      this.copied += live;
      chunk.copy(p, live);
      this.start = 0;
      this.end = live;
    } else {
      const next = Buffer.allocUnsafe(Math.max(want, 2 * (p?.length ?? 0), 1024));
      if (p !== null) p.copy(next, 0, this.start, this.end);
      this.copied += live;
      chunk.copy(next, live);
      this.pending = next;
      this.start = 0;
      this.end = live;
    }
    this.end += chunk.length;
    this.copied += chunk.length;
  }
}
