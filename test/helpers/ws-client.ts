import WebSocket from 'ws';

export interface Frame {
  type: string;
  [k: string]: any;
}

/**
 * A raw native-protocol client for tests: records every frame and lets a test wait for the frame (or close)
 * it expects, instead of sleeping.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void }[] = [];
  private closeWaiters: ((code: number) => void)[] = [];
  private readonly opened: Promise<void>;

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString()) as Frame;
      if (f.type === 'ping') ws.send('{"type":"pong"}');
      this.frames.push(f);
      for (const w of [...this.waiters]) {
        if (w.pred(f)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(f);
        }
      }
    });
    ws.on('error', () => {});
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      for (const w of this.closeWaiters) w(code);
      for (const w of this.waiters) w.reject(new Error(`closed with ${code} while waiting for a frame`));
      this.waiters = [];
    });
  }

  static async connect(url: string, token?: string): Promise<TestClient> {
    const c = new TestClient(new WebSocket(token === undefined ? url : `${url}?token=${encodeURIComponent(token)}`));
    await c.opened;
    return c;
  }

  /** Connects with a token and waits for the welcome frame. */
  static async welcome(url: string, token: string): Promise<TestClient> {
    const c = await TestClient.connect(url, token);
    await c.next((f) => f.type === 'welcome');
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves with the first frame (already received or future) matching `pred`. */
  next(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  messages(): Frame[] {
    return this.frames.filter((f) => f.type === 'message');
  }

  closed(timeoutMs = 5000): Promise<number> {
    if (this.closeCode !== undefined) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
      this.closeWaiters.push((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Proves a client did NOT receive something: sends itself a ping and waits for the pong. The server answers
 * frames in order, so once the pong is back, everything queued before it has arrived.
 */
export async function settle(c: TestClient): Promise<void> {
  const before = c.frames.filter((f) => f.type === 'pong').length;
  c.send({ type: 'ping' });
  await c.next((f) => f.type === 'pong' && c.frames.filter((x) => x.type === 'pong').indexOf(f) >= before);
}
