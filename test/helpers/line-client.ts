import { connect as netConnect, type Socket } from 'node:net';

/** A raw line-port client: collects reply lines and lets a test wait for the next N of them (no sleeps). */
export class LineClient {
  /** Every complete line received, without its `\n`. */
  readonly lines: string[] = [];
  /** Everything received, byte for byte (as UTF-8 text). */
  received = '';
  isClosed = false;
  readonly closed: Promise<void>;
  private consumed = 0;
  private buf = '';
  private wake: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.received += d;
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl !== -1; nl = this.buf.indexOf('\n')) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      this.wake?.();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = netConnect(port, '127.0.0.1');
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new LineClient(s));
      });
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Sends one command line. */
  send(cmd: Record<string, unknown>): void {
    this.write(`${JSON.stringify(cmd)}\n`);
  }

  /** The next `n` reply lines not yet read; fails on close or after `timeoutMs` with what did arrive. */
  read(n = 1, timeoutMs = 5000): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        reject(new Error(`timed out waiting for ${n} line(s); got ${JSON.stringify(this.lines.slice(this.consumed))}`));
      }, timeoutMs);
      const check = () => {
        if (this.lines.length - this.consumed >= n) {
          clearTimeout(timer);
          this.wake = undefined;
          const out = this.lines.slice(this.consumed, this.consumed + n);
          this.consumed += n;
          resolve(out);
        } else if (this.isClosed) {
          clearTimeout(timer);
          this.wake = undefined;
          reject(new Error(`connection closed while waiting for ${n} line(s); got ${JSON.stringify(this.lines.slice(this.consumed))}`));
        }
      };
      this.wake = check;
      check();
    });
  }

  /** Sends a command and returns its reply line. */
  async cmd(cmd: Record<string, unknown>): Promise<string> {
    this.send(cmd);
    return (await this.read(1))[0]!;
  }

  /** Resolves true when the connection closes within `timeoutMs`, false otherwise. */
  closesWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  destroy(): void {
    this.socket.destroy();
  }
}
