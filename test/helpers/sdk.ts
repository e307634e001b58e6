import WebSocket from 'ws';
import { Herald, type HeraldEvent, type HeraldEvents, type HeraldMessage, type HeraldOptions } from '../../client/index.ts';

/** An SDK client over the `ws` package with short backoffs, no durable storage unless given. */
export function sdkClient(opts: Partial<HeraldOptions> & Pick<HeraldOptions, 'url' | 'token'>): Herald {
  return new Herald({ WebSocket, minBackoffMs: 10, maxBackoffMs: 100, storage: null, ...opts });
}

/** Resolves with the next event matching `pred`; register it before the action that causes the event. */
export function nextEvent<K extends HeraldEvent>(
  c: Herald,
  event: K,
  pred: (p: HeraldEvents[K]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<HeraldEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    const off = c.on(event, (p) => {
      if (!pred(p)) return;
      clearTimeout(timer);
      off();
      resolve(p);
    });
  });
}

/** Collects every message the client hands to the application. */
export function collect(c: Herald): HeraldMessage[] {
  const got: HeraldMessage[] = [];
  c.on('message', (m) => got.push(m));
  return got;
}

/** A Map-backed stand-in for localStorage, shared between clients to model a page reload. */
export function memoryStorage(): { getItem(k: string): string | null; setItem(k: string, v: string): void } {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v) };
}
