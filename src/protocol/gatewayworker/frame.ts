// GatewayProtocol frames of the gateway's inner port (reference §3): the request/event frame (28-byte header,
// ext_data, body; pack_len counts the whole frame) and the reply frame (a 4-byte length that does NOT count
// itself, then the payload). Pure codecs: the readers take bytes as they arrive and hand back whole frames.
//
// The readers differ from the original on purpose where it hangs or trusts: a pack_len below 28 (the original
// stalls the link forever) and an ext_len that does not fit in pack_len are errors, and every length is checked
// when the 28 header bytes are in, before the reader waits for or buffers a body, so a 2 GB length costs nothing.

export const HEADER_LENGTH = 28;
/** The original's package limit; longer frames close the connection there too. */
export const DEFAULT_MAX_FRAME_LENGTH = 10_485_760;

export interface GatewayFrame {
  cmd: number;
  /** uint32: the gateway's lanIp as ip2long gives it. */
  localIp: number;
  localPort: number;
  clientIp: number;
  clientPort: number;
  connectionId: number;
  flag: number;
  /** The gateway's public client port. */
  gatewayPort: number;
  extData: Buffer;
  body: Buffer;
}

/** What encodeFrame takes: every header field but cmd defaults to 0, ext_data and body to empty. */
export type FrameInit = Partial<Omit<GatewayFrame, 'extData' | 'body'>> & { cmd: number; extData?: Buffer | string; body?: Buffer | string };

export type FrameErrorCode = 'too_short' | 'bad_ext_length' | 'too_large' | 'truncated';

export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly code: FrameErrorCode,
    /** Where the offending frame starts in the connection's byte stream. */
    readonly offset: number,
    message: string,
  ) {
    super(`${message} (frame at byte ${offset})`);
  }
}

function checkUint(name: string, v: number, bits: 8 | 16 | 32): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RangeError(`${name} ${v} is not a uint${bits}`);
  return v;
}

const bytesOf = (b: Buffer | string | undefined): Buffer => (b === undefined ? Buffer.alloc(0) : typeof b === 'string' ? Buffer.from(b) : b);

/** One request/event frame. Throws RangeError for a header field out of its range or a frame beyond 4 GB. */
export function encodeFrame(f: FrameInit): Buffer {
  const ext = bytesOf(f.extData);
  const body = bytesOf(f.body);
  const length = checkUint('frame length', HEADER_LENGTH + ext.length + body.length, 32);
  const out = Buffer.allocUnsafe(length);
  out.writeUInt32BE(length, 0);
  out.writeUInt8(checkUint('cmd', f.cmd, 8), 4);
  out.writeUInt32BE(checkUint('localIp', f.localIp ?? 0, 32), 5);
  out.writeUInt16BE(checkUint('localPort', f.localPort ?? 0, 16), 9);
  out.writeUInt32BE(checkUint('clientIp', f.clientIp ?? 0, 32), 11);
  out.writeUInt16BE(checkUint('clientPort', f.clientPort ?? 0, 16), 15);
  out.writeUInt32BE(checkUint('connectionId', f.connectionId ?? 0, 32), 17);
  out.writeUInt8(checkUint('flag', f.flag ?? 0, 8), 21);
  out.writeUInt16BE(checkUint('gatewayPort', f.gatewayPort ?? 0, 16), 22);
  out.writeUInt32BE(ext.length, 24);
  ext.copy(out, HEADER_LENGTH);
  body.copy(out, HEADER_LENGTH + ext.length);
  return out;
}

/** One reply frame: the payload's length (not counting these 4 bytes), then the payload. */
export function encodeReply(payload: Buffer | string): Buffer {
  const body = bytesOf(payload);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(checkUint('reply length', body.length, 32), 0);
  body.copy(out, 4);
  return out;
}

/**
 * The unconsumed bytes of a stream as the chunks they came in. Bytes are copied only when a frame or a header
 * spans chunks, once per frame, so a large frame arriving in many small reads costs one copy, not one per read.
 */
class Chunks {
  private list: Buffer[] = [];
  size = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.list.push(chunk);
    this.size += chunk.length;
  }

  /** The first buffer, made to hold at least n contiguous bytes (requires size >= n). */
  peek(n: number): Buffer {
    const head = this.list[0] as Buffer;
    if (head.length >= n) return head;
    const joined = Buffer.concat(this.list, this.size);
    this.list = [joined];
    return joined;
  }

  /** Removes and returns the first n bytes (requires size >= n); a view, not a copy, when one chunk holds them. */
  take(n: number): Buffer {
    const head = this.peek(n);
    if (head.length === n) this.list.shift();
    else this.list[0] = head.subarray(n);
    this.size -= n;
    return head.subarray(0, n);
  }
}

export interface FrameReaderOptions {
  /** Frames (the whole pack_len) beyond this are an error. Default DEFAULT_MAX_FRAME_LENGTH. */
  maxFrameLength?: number;
}

/** What one push gives back: the whole frames, in order, and the error that stopped the reader, if any. */
export interface PushResult<T> {
  frames: T[];
  error?: FrameError;
}

/** Shared by both readers: a length read from a fixed-size head, then the frame taken whole. */
abstract class LengthReader<T> {
  private readonly chunks = new Chunks();
  private consumed = 0;
  private failure: FrameError | undefined;
  protected readonly max: number;

  constructor(options: FrameReaderOptions = {}) {
    this.max = options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH;
  }

  protected abstract readonly headLength: number;
  /** The whole frame's length from its head, or the error that makes it unreadable. */
  protected abstract frameLength(head: Buffer, offset: number): number | FrameError;
  protected abstract decode(frame: Buffer): T;

  /** Bytes held that are not yet part of a whole frame. */
  get buffered(): number {
    return this.chunks.size;
  }

  /** The error that stopped this reader: the stream cannot be resynchronised, so the connection should close. */
  get error(): FrameError | undefined {
    return this.failure;
  }

  /**
   * Adds bytes and returns every frame they complete. After an error, the frames before it are still returned
   * (the original applies them) and every later push returns the same error and no frames.
   */
  push(chunk: Buffer): PushResult<T> {
    const frames: T[] = [];
    if (this.failure) return { frames, error: this.failure };
    this.chunks.push(chunk);
    while (this.chunks.size >= this.headLength) {
      const length = this.frameLength(this.chunks.peek(this.headLength), this.consumed);
      if (length instanceof FrameError) {
        this.failure = length;
        return { frames, error: length };
      }
      if (this.chunks.size < length) break;
      frames.push(this.decode(this.chunks.take(length)));
      this.consumed += length;
    }
    return { frames };
  }

  /** The peer closed: bytes left over are a truncated frame. */
  end(): FrameError | undefined {
    if (this.failure) return this.failure;
    if (this.chunks.size === 0) return undefined;
    this.failure = new FrameError('truncated', this.consumed, `the stream ended ${this.chunks.size} bytes into a frame`);
    return this.failure;
  }
}

/**
 * Incremental reader of request/event frames (what the gateway's inner port and a worker link receive). A frame's
 * extData and body are views of the pushed chunks (no copy); the reader never writes into them.
 */
export class FrameReader extends LengthReader<GatewayFrame> {
  protected readonly headLength = HEADER_LENGTH;

  protected frameLength(head: Buffer, offset: number): number | FrameError {
    const length = head.readUInt32BE(0);
    if (length < HEADER_LENGTH) return new FrameError('too_short', offset, `pack_len ${length} is shorter than the ${HEADER_LENGTH}-byte header`);
    if (length > this.max) return new FrameError('too_large', offset, `pack_len ${length} is beyond the limit of ${this.max} bytes`);
    const ext = head.readUInt32BE(24);
    if (ext > length - HEADER_LENGTH) return new FrameError('bad_ext_length', offset, `ext_len ${ext} does not fit in pack_len ${length}`);
    return length;
  }

  protected decode(b: Buffer): GatewayFrame {
    const extEnd = HEADER_LENGTH + b.readUInt32BE(24);
    return {
      cmd: b[4] as number,
      localIp: b.readUInt32BE(5),
      localPort: b.readUInt16BE(9),
      clientIp: b.readUInt32BE(11),
      clientPort: b.readUInt16BE(15),
      connectionId: b.readUInt32BE(17),
      flag: b[21] as number,
      gatewayPort: b.readUInt16BE(22),
      extData: b.subarray(HEADER_LENGTH, extEnd),
      body: b.subarray(extEnd),
    };
  }
}

/** Incremental reader of reply frames (what a GatewayClient or a worker's query link receives). */
export class ReplyReader extends LengthReader<Buffer> {
  protected readonly headLength = 4;

  protected frameLength(head: Buffer, offset: number): number | FrameError {
    const length = head.readUInt32BE(0);
    if (length > this.max) return new FrameError('too_large', offset, `reply length ${length} is beyond the limit of ${this.max} bytes`);
    return 4 + length;
  }

  protected decode(b: Buffer): Buffer {
    return b.subarray(4);
  }
}
