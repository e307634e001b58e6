// Server-side WebSocket frame parsing (RFC 6455 section 5) and the few control frames the server writes.
//
// Why our own: `ws` costs ~1.5 KB of heap per idle connection (a WebSocket, a Receiver that is a Writable stream
// with its own state, a Sender, bound listeners), which made it the largest per-connection cost in Herald. The
// server already frames everything it sends (protocol/wsframe.ts), so only this parser and a close handshake
// (socket.ts) are needed. The parser's state is a few fields on the connection object itself (a subclass),
// allocated nothing while idle, and it allocates per frame only for partial or fragmented frames. Every
// WebSocket listener of Herald uses it, so there is one WebSocket stack to get right.
//
// Not supported, on purpose: extensions (permessage-deflate is never negotiated, so RSV bits are errors).
import { isUtf8 } from 'node:buffer';

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close codes the parser reports (RFC 6455 section 7.4.1). */
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_INVALID_DATA = 1007;
/** Policy violation: what `ws` closes with when a message has too many fragments. */
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
/** "No status received": a close frame without a payload. Never sent on the wire. */
export const CLOSE_NO_STATUS = 1005;

/** Codes a peer may send in a close frame (the same rule as `ws`): 1004-1006 and 1015 are reserved. */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/**
 * Incremental parser of client-to-server frames. Subclasses receive complete messages and control frames through
 * the `on*` methods; feed it with `parse(chunk)` in whatever pieces the socket delivers.
 *
 * Enforced: client frames are masked; RSV bits are zero; opcodes are known; control frames are final and at most
 * 125 bytes; continuation frames follow an unfinished message and no new message starts before it ends; a
 * message (all its fragments) is at most `maxPayload` bytes, checked from the header, before its payload is
 * buffered (1009); when `maxFragments` is set, a message has at most that many frames (1008); text messages are
 * valid UTF-8 (1007); a close frame's code is valid and its reason UTF-8. After a close frame or an error nothing
 * more is parsed.
 */
/**
 * Frames per message that `ws` allows (1008 past it); a limit is what stops endless empty continuation frames,
 * which cost memory and no payload bytes.
 */
export const WS_MAX_FRAGMENTS = 16 * 1024;

export abstract class FrameParser {
  /** Received bytes not parsed yet (an incomplete frame): one Buffer, or several until `need` bytes are in. */
  private rest: Buffer | Buffer[] | null = null;
  private restBytes = 0;
  /** How many bytes `rest` must hold before parsing can progress. */
  private need = 0;
  /** The unfinished fragmented message: its opcode, payloads so far and their total size. */
  private fragments: Buffer[] | null = null;
  private fragOpcode = 0;
  private fragBytes = 0;
  /** Set after a close frame or a protocol error. */
  private stopped = false;

  /** Largest message accepted, in bytes (a getter, so it need not be stored per connection). */
  protected abstract get maxPayload(): number;
  /**
   * Most frames one message may span (0: no limit, the default). Without a limit, empty continuation frames
   * grow a message's fragment list while its size stays 0, so `maxPayload` never stops them.
   */
  protected get maxFragments(): number {
    return 0;
  }
  /** A complete text (valid UTF-8) or binary message. `data` may share memory with the socket's chunk. */
  protected abstract onMessage(data: Buffer, binary: boolean): void;
  protected abstract onPing(data: Buffer): void;
  protected abstract onPong(data: Buffer): void;
  /** The peer's close frame; `code` is 1005 when it had no payload. */
  protected abstract onCloseFrame(code: number, reason: string): void;
  /** The peer broke the protocol: close with `code` (1002, 1007, 1009, or 1008 for too many fragments). */
  protected abstract onProtocolError(code: number, reason: string): void;

  protected get parsing(): boolean {
    return !this.stopped;
  }

  /** Feeds bytes received from the socket. The chunk is the parser's from now on: payloads are unmasked in place. */
  protected parse(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    let buf = chunk;
    if (this.rest !== null) {
      if (Array.isArray(this.rest)) this.rest.push(chunk);
      else this.rest = [this.rest, chunk];
      this.restBytes += chunk.length;
      // Joining only once enough is in keeps a large frame arriving in many chunks linear, not quadratic.
      if (this.restBytes < this.need) return;
      buf = Buffer.concat(this.rest, this.restBytes);
      this.rest = null;
      this.restBytes = 0;
    }
    let off = 0;
    while (off < buf.length && !this.stopped) {
      const used = this.frame(buf, off);
      if (used === 0) break;
      off += used;
    }
    if (this.stopped || off === buf.length) return;
    // Copy the incomplete tail so it does not keep the whole chunk alive (nor a pool slab) while we wait.
    const tail = Buffer.allocUnsafeSlow(buf.length - off);
    buf.copy(tail, 0, off);
    this.rest = tail;
    this.restBytes = tail.length;
  }

  /** Parses the frame at `off`: returns the bytes it used, or 0 when it is incomplete (or an error stopped us). */
  private frame(buf: Buffer, off: number): number {
    const avail = buf.length - off;
    if (avail < 2) return this.wait(2);
    const b0 = buf[off]!;
    const b1 = buf[off + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'RSV bits set without a negotiated extension');
    if ((b1 & 0x80) === 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'client frames must be masked');
    const len7 = b1 & 0x7f;
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) return this.fail(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
      if (!fin) return this.fail(CLOSE_PROTOCOL_ERROR, 'fragmented control frame');
      if (len7 > 125) return this.fail(CLOSE_PROTOCOL_ERROR, 'control frame over 125 bytes');
    } else if (opcode === OP_CONTINUATION) {
      if (this.fragments === null) return this.fail(CLOSE_PROTOCOL_ERROR, 'continuation frame without a message to continue');
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (this.fragments !== null) return this.fail(CLOSE_PROTOCOL_ERROR, 'new message before the fragmented one ended');
    } else {
      return this.fail(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
    }

    const head = (len7 === 126 ? 4 : len7 === 127 ? 10 : 2) + 4; // + the 4-byte masking key
    if (avail < head) return this.wait(head);
    let len = len7;
    if (len7 === 126) len = buf.readUInt16BE(off + 2);
    else if (len7 === 127) {
      const hi = buf.readUInt32BE(off + 2);
      // Anything needing more than 32 bits is over any limit we accept; the arithmetic below stays exact.
      len = hi > 0 ? Number.MAX_SAFE_INTEGER : buf.readUInt32BE(off + 6);
    }
    if (opcode < OP_CLOSE && (opcode === OP_CONTINUATION ? this.fragBytes : 0) + len > this.maxPayload) {
      return this.fail(CLOSE_TOO_BIG, 'message too big');
    }
    if (avail < head + len) return this.wait(head + len);

    const start = off + head;
    const payload = buf.subarray(start, start + len);
    unmask(payload, buf, start - 4);

    switch (opcode) {
      case OP_CLOSE:
        return this.closePayload(payload) ? head + len : 0;
      case OP_PING:
        this.onPing(payload);
        break;
      case OP_PONG:
        this.onPong(payload);
        break;
      case OP_CONTINUATION: {
        // `fragments` holds one payload per frame so far. Checked once the payload is in, as `ws` does.
        if (this.maxFragments > 0 && this.fragments!.length >= this.maxFragments) return this.fail(CLOSE_POLICY, 'too many message fragments');
        this.fragments!.push(payload);
        this.fragBytes += len;
        if (!fin) break;
        const data = Buffer.concat(this.fragments!, this.fragBytes);
        const binary = this.fragOpcode === OP_BINARY;
        this.fragments = null;
        this.fragOpcode = 0;
        this.fragBytes = 0;
        if (!this.message(data, binary)) return 0;
        break;
      }
      default:
        if (fin) {
          if (!this.message(payload, opcode === OP_BINARY)) return 0;
        } else {
          this.fragments = [payload];
          this.fragOpcode = opcode;
          this.fragBytes = len;
        }
    }
    return head + len;
  }

  private message(data: Buffer, binary: boolean): boolean {
    if (!binary && !isUtf8(data)) return this.refuse(CLOSE_INVALID_DATA, 'text message is not valid UTF-8');
    this.onMessage(data, binary);
    return true;
  }

  private refuse(code: number, reason: string): false {
    this.fail(code, reason);
    return false;
  }

  private closePayload(payload: Buffer): boolean {
    let code = CLOSE_NO_STATUS;
    let reason = '';
    if (payload.length === 1) return this.refuse(CLOSE_PROTOCOL_ERROR, 'close frame with a 1-byte payload');
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code)) return this.refuse(CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
      const r = payload.subarray(2);
      if (!isUtf8(r)) return this.refuse(CLOSE_INVALID_DATA, 'close reason is not valid UTF-8');
      reason = r.toString();
    }
    this.stop();
    this.onCloseFrame(code, reason);
    return true;
  }

  private wait(bytes: number): number {
    this.need = bytes;
    return 0;
  }

  private fail(code: number, reason: string): number {
    this.stop();
    this.onProtocolError(code, reason);
    return 0;
  }

  /** Parses nothing more and drops what was buffered. */
  protected stop(): void {
    this.stopped = true;
    this.rest = null;
    this.restBytes = 0;
    this.fragments = null;
  }
}

/** XORs `data` in place with the 4-byte key at `buf[keyAt]` (RFC 6455 section 5.3). */
function unmask(data: Buffer, buf: Buffer, keyAt: number): void {
  const k0 = buf[keyAt]!;
  const k1 = buf[keyAt + 1]!;
  const k2 = buf[keyAt + 2]!;
  const k3 = buf[keyAt + 3]!;
  const n = data.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    data[i] = data[i]! ^ k0;
    data[i + 1] = data[i + 1]! ^ k1;
    data[i + 2] = data[i + 2]! ^ k2;
    data[i + 3] = data[i + 3]! ^ k3;
  }
  for (; i < n; i++) data[i] = data[i]! ^ (i % 4 === 0 ? k0 : i % 4 === 1 ? k1 : k2);
}

/** A server-to-client (unmasked) control frame: close, ping or pong, payload at most 125 bytes. */
export function controlFrame(opcode: number, payload: Buffer): Buffer {
  const len = Math.min(payload.length, 125);
  const buf = Buffer.allocUnsafe(2 + len);
  buf[0] = 0x80 | opcode;
  buf[1] = len;
  payload.copy(buf, 2, 0, len);
  return buf;
}

/**
 * The close frame for `code` and `reason`; no code gives an empty one. The reason is cut to 123 bytes (the
 * server's reasons are short ASCII, so a cut never splits a character).
 */
export function closeFrame(code?: number, reason = ''): Buffer {
  if (code === undefined) return controlFrame(OP_CLOSE, Buffer.alloc(0));
  const r = Buffer.from(reason);
  const payload = Buffer.allocUnsafe(2 + Math.min(r.length, 123));
  payload.writeUInt16BE(code, 0);
  r.copy(payload, 2, 0, 123);
  return controlFrame(OP_CLOSE, payload);
}
