import type WebSocket from 'ws';

/**
 * A test client's socket that records every JSON frame it receives and lets a test wait for the frame (or the
 * close) it expects instead of sleeping. Subclasses speak a protocol: the native one, Pusher's.
 */
export abstract class RecordingSocket<F> {
  readonly frames: F[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private waiters: { pred: (f: F) => boolean; resolve: (f: F) => void; reject: (e: Error) => void }[] = [];
  private closeWaiters: ((code: number) => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const text = raw.toString();
      const f = JSON.parse(text) as F;
      this.received(f, text);
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

  /** A frame arrived, before it is recorded: what the protocol answers at once (a pong), or keeps besides. */
  protected received(_frame: F, _text: string): void {}

  /** Resolves with the first frame (already received or future) matching `pred`. */
  next(pred: (f: F) => boolean, timeoutMs = 5000): Promise<F> {
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
