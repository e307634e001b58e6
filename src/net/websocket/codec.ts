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
 * Frames per message that `ws`'s server allows (1008 past it), and every FrameParser's default: a limit is what
 * stops endless empty continuation frames, which carry no payload bytes for maxPayload to count.
 */
export const WS_MAX_FRAGMENTS = 16 * 1024;

/**
 * Incremental parser of client-to-server frames. Subclasses receive complete messages and control frames through
 * the `on*` methods; feed it with `parse(chunk)` in whatever pieces the socket delivers.
 *
 * Enforced: client frames are masked; RSV bits are zero; opcodes are known; control frames are final and at most
 * 125 bytes; continuation frames follow an unfinished message and no new message starts before it ends; a
 * message (all its fragments) is at most `maxPayload` bytes, checked from the header, before its payload is
 * buffered (1009); a message has at most `maxFragments` frames, empty ones included (1008); text messages are
 * valid UTF-8 (1007); a close frame's code is valid and its reason UTF-8. After a close frame or an error nothing
 * more is parsed.
 *
 * Memory held between chunks, per connection, whatever the peer sends: at most two buffers of the parser's own,
 * the unfinished message's (at most maxPayload bytes) and the partial frame's (at most 14 + max(125, maxPayload
 * - the message's bytes so far)), so under 2 * maxPayload + 140 bytes in all; no views of socket chunks, and
 * nothing per fragment. Pings are handed over as they come (socket.ts answers them within a write backlog).
 */
export abstract class FrameParser {
  /**
   * The start of a frame that has not fully arrived: `restBytes` bytes in a buffer of the parser's own (never a
   * view of a socket chunk, which would keep the whole chunk alive). Its capacity is at most twice what arrived
   * and never more than the frame's size, so a header claiming a large payload costs nothing until the payload
   * comes, and a frame trickling in one byte per chunk costs its bytes, not one Buffer per chunk.
   */
  private rest: Buffer | null = null;
  private restBytes = 0;
  /** How many bytes `rest` must hold before parsing can progress. */
  private need = 0;
  /**
   * The unfinished fragmented message: its opcode (0: none), its frames so far, and its payload copied into a
   * buffer of the parser's own (grown like `rest`, never past maxPayload), so that neither fragments nor empty
   * fragments keep socket chunks alive, and memory does not grow with the number of fragments.
   */
  private fragOpcode = 0;
  private fragCount = 0;
  private fragBytes = 0;
  private fragData: Buffer | null = null;
  /** Set after a close frame or a protocol error. */
  private stopped = false;

  /** Largest message accepted, in bytes (a getter, so it need not be stored per connection). */
  protected abstract get maxPayload(): number;
  /**
   * Most frames one message may span; 0: no limit. Empty continuation frames add no bytes, so only this stops
   * a message made of them (their memory is bounded anyway: they add nothing to the parser's buffers).
   */
  protected get maxFragments(): number {
    return WS_MAX_FRAGMENTS;
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

  /**
   * What the parser holds between chunks: its buffers (each its own allocation) and the frames of the unfinished
   * message. For tests, which assert the per-connection bound: at most 2 buffers, the partial frame's of at most
   * 14 + max(125, maxPayload - message bytes so far) bytes and the message's of at most maxPayload bytes.
   */
  protected get parserHeld(): { buffers: Buffer[]; fragments: number } {
    return { buffers: [this.rest, this.fragData].filter((b) => b !== null), fragments: this.fragCount };
  }

  /** Feeds bytes received from the socket. The chunk is the parser's from now on: payloads are unmasked in place. */
  protected parse(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    let off = 0;
    // First complete the frame begun in earlier chunks: take in only its bytes, as far as its header tells so far.
    while (this.rest !== null) {
      const take = Math.min(chunk.length - off, this.need - this.restBytes);
      this.holdPartial(chunk, off, take);
      off += take;
      if (this.restBytes < this.need) return;
      const pending = this.rest;
      if (this.frame(pending, 0) === pending.length) {
        this.rest = null;
        this.restBytes = 0;
      }
      if (this.stopped) return;
    }
    while (off < chunk.length && !this.stopped) {
      const used = this.frame(chunk, off);
      if (used === 0) break;
      off += used;
    }
    if (!this.stopped && off < chunk.length) this.holdPartial(chunk, off, chunk.length - off);
  }

  /** Appends `n` bytes of `src` from `from` to the partial frame, growing its buffer within `need`. */
  private holdPartial(src: Buffer, from: number, n: number): void {
    const have = this.restBytes;
    let rest = this.rest;
    if (rest === null || have + n > rest.length) {
      const grown = Buffer.allocUnsafeSlow(Math.min(this.need, Math.max(2 * (have + n), 64)));
      if (rest !== null) rest.copy(grown, 0, 0, have);
      rest = this.rest = grown;
    }
    src.copy(rest, have, from, from + n);
    this.restBytes = have + n;
  }

  /**
   * Parses the frame at `off`: returns the bytes it used, or 0 when it is incomplete (or an error stopped us).
   * Each check is made as soon as the bytes it needs are in, as `ws` does: a peer is refused at the first byte
   * that proves it wrong, and no more of its frame is waited for.
   */
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
      if (len7 === 1 && opcode === OP_CLOSE) return this.fail(CLOSE_PROTOCOL_ERROR, 'close frame with a 1-byte payload');
    } else if (opcode === OP_CONTINUATION) {
      if (this.fragOpcode === 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'continuation frame without a message to continue');
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (this.fragOpcode !== 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'new message before the fragmented one ended');
    } else {
      return this.fail(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
    }

    let len = len7;
    let head = 6; // 2 + the 4-byte masking key
    if (len7 === 126) {
      if (avail < 4) return this.wait(4);
      len = buf.readUInt16BE(off + 2);
      head = 8;
    } else if (len7 === 127) {
      if (avail < 10) return this.wait(10);
      // Anything needing more than 32 bits (the top bit set included) is over any limit we accept: the
      // arithmetic below stays exact.
      len = buf.readUInt32BE(off + 2) > 0 ? Number.MAX_SAFE_INTEGER : buf.readUInt32BE(off + 6);
      head = 14;
    }
    if (opcode < OP_CLOSE && this.fragBytes + len > this.maxPayload) return this.fail(CLOSE_TOO_BIG, 'message too big');
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
      default: {
        if (fin && this.fragOpcode === 0) {
          // The common case, one frame: the payload is delivered where it lies, nothing allocated.
          if (!this.message(payload, opcode === OP_BINARY)) return 0;
          break;
        }
        // Frames per message, empty ones included; checked once the payload is in, as `ws` does.
        const max = this.maxFragments;
        if (max > 0 && this.fragCount >= max) return this.fail(CLOSE_POLICY, 'too many message fragments');
        if (this.fragOpcode === 0) this.fragOpcode = opcode;
        this.fragCount++;
        if (len > 0) this.gatherFragment(payload, fin);
        if (!fin) break;
        const data = this.fragData === null ? payload : this.fragData.subarray(0, this.fragBytes);
        const binary = this.fragOpcode === OP_BINARY;
        this.endFragmented();
        if (!this.message(data, binary)) return 0;
      }
    }
    return head + len;
  }

  /** Copies a fragment's payload into the message's buffer, grown to at most twice its bytes and maxPayload. */
  private gatherFragment(payload: Buffer, last: boolean): void {
    const have = this.fragBytes;
    const size = have + payload.length;
    let data = this.fragData;
    if (data === null || size > data.length) {
      const grown = Buffer.allocUnsafeSlow(last ? size : Math.min(this.maxPayload, Math.max(2 * size, 256)));
      if (data !== null) data.copy(grown, 0, 0, have);
      data = this.fragData = grown;
    }
    payload.copy(data, have);
    this.fragBytes = size;
  }

  private endFragmented(): void {
    this.fragOpcode = 0;
    this.fragCount = 0;
    this.fragBytes = 0;
    this.fragData = null;
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
    this.endFragmented();
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
