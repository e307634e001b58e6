import WebSocket from 'ws';
import { RecordingSocket } from './recording-socket.ts';

export interface Frame {
  type: string;
  [k: string]: any;
}

/**
 * A raw native-protocol client for tests: records every frame and lets a test wait for the frame (or close)
 * it expects, instead of sleeping.
 */
export class TestClient extends RecordingSocket<Frame> {
  private readonly opened: Promise<void>;

  constructor(ws: WebSocket) {
    super(ws);
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  protected override received(f: Frame): void {
    if (f.type === 'ping') this.ws.send('{"type":"pong"}');
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

  messages(): Frame[] {
    return this.frames.filter((f) => f.type === 'message');
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
