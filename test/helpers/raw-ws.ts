// A WebSocket client at the byte level, for differential tests of server WebSocket stacks: it writes whatever
// bytes a test builds (including frames a WebSocket library refuses to send) and records everything the server
// answers, in order, as a transcript of plain strings that two servers' runs can be compared by.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameOptions {
  fin?: boolean;
  masked?: boolean;
  /** RSV1-3 as a 3-bit number (4 = RSV1). */
  rsv?: number;
  /** The length written in the header, when it should differ from the payload's. */
  len?: number;
  /** Use the 16-bit (126) or 64-bit (127) length form even when a shorter one fits. */
  lenForm?: 7 | 16 | 64;
  mask?: Buffer;
}

/** One client-to-server frame, masked unless told otherwise. */
export function frame(opcode: number, payload: Buffer | string, opts: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const { fin = true, masked = true, rsv = 0, mask = Buffer.from([0x12, 0x34, 0x56, 0x78]) } = opts;
  const len = opts.len ?? data.length;
  const form = opts.lenForm ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const ext = form === 7 ? 0 : form === 16 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  head[1] = (masked ? 0x80 : 0) | (form === 7 ? len : form === 16 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!masked) return Buffer.concat([head, data]);
  mask.copy(head, 2 + ext);
  return Buffer.concat([head, Buffer.from(data.map((b, i) => b ^ mask[i % 4]!))]);
}

export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** The request line and headers of a handshake; `undefined` leaves a default header out. */
export function handshakeRequest(port: number, path = '/', headers: Record<string, string | string[] | undefined> = {}, method = 'GET'): string {
  const all: Record<string, string | string[] | undefined> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': KEY,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let req = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(all)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) req += `${k}: ${one}\r\n`;
  }
  return `${req}\r\n`;
}

export class RawWs {
  readonly frames: ServerFrame[] = [];
  /** What happened, in order: `frame ...`, `end` (the server ended its side), `closed`. */
  readonly transcript: string[] = [];
  status = 0;
  /** The response head as received (status line and headers). */
  head = '';
  headers: Record<string, string> = {};
  ended = false;
  closed = false;
  /**
   * What to send when the server's n-th ping (from 1) arrives: by default a pong with its payload, as a browser
   * does; `undefined` sends nothing.
   */
  onPing: (n: number, payload: Buffer) => Buffer | undefined = (_n, payload) => frame(OP.pong, payload);
  private pings = 0;
  private buf = Buffer.alloc(0);
  private handshakeDone = false;
  private readonly waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.transcript.push('end');
      this.wake();
    });
    // Writes after the server ended or reset the connection fail; the transcript shows what the server did.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.transcript.push('closed');
      this.wake();
    });
  }

  /** Connects and sends `request` (a handshake) plus any bytes meant to arrive with it; resolves on the response head. */
  static async open(port: number, request: string, after: Buffer = Buffer.alloc(0)): Promise<RawWs> {
    const socket = connect(port, '127.0.0.1');
    // Small frames written back to back must not wait for the server's delayed ACK (Nagle).
    socket.setNoDelay(true);
    await once(socket, 'connect');
    const c = new RawWs(socket);
    socket.write(Buffer.concat([Buffer.from(request), after]));
    await c.until(() => c.handshakeDone || c.closed);
    return c;
  }

  send(bytes: Buffer): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes);
  }

  get closeFrame(): ServerFrame | undefined {
    return this.frames.find((f) => f.opcode === OP.close);
  }

  /** Waits (for data or the end of the socket, never a fixed time) until `cond` holds. */
  until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; transcript: ${this.transcript.join(' | ')}`)), timeoutMs);
      const check = (): void => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** Re-checks pending `until` conditions (for conditions that depend on more than this socket). */
  poke(): void {
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private receive(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (!this.handshakeDone) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.buf.subarray(0, end).toString();
      const [statusLine, ...lines] = this.head.split('\r\n');
      this.status = Number(statusLine!.split(' ')[1]);
      for (const l of lines) {
        const i = l.indexOf(':');
        this.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      this.buf = this.status === 101 ? this.buf.subarray(end + 4) : Buffer.alloc(0);
      this.handshakeDone = true;
    }
    while (this.status === 101 && this.buf.length >= 2) {
      let len = this.buf[1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        head = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        head = 10;
      }
      if (this.buf.length < head + len) break;
      const b0 = this.buf[0]!;
      const masked = (this.buf[1]! & 0x80) !== 0;
      const f = { fin: (this.buf[0]! & 0x80) !== 0, opcode: this.buf[0]! & 0x0f, payload: Buffer.from(this.buf.subarray(head, head + len)) };
      this.buf = this.buf.subarray(head + len);
      this.frames.push(f);
      // The whole first byte (FIN, RSV, opcode) and the mask bit, so any framing difference shows.
      this.transcript.push(`frame ${b0.toString(16)} ${masked ? 'masked ' : ''}${f.payload.toString('hex')}`);
      if (f.opcode === OP.ping) {
        const reply = this.onPing(++this.pings, f.payload);
        if (reply !== undefined) this.send(reply);
      }
    }
    this.wake();
  }
}
