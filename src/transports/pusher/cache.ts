// Cache channels (reference §8.2): the last event published to one over the HTTP API, kept for the app's TTL in
// the store's remembered keys, so every node of a cluster reads the same last event (Redis) and it expires there.
import type { Store } from '../../store/store.ts';

export interface CachedEvent {
  event: string;
  /** The data string exactly as it was triggered. */
  data: string;
  /** When it was published (ms): `info=cache` reports the TTL left. */
  at: number;
}

export function cacheKey(herald: string): string {
  return `pusher-cache:${herald}`;
}

export function writeCache(store: Store, key: string, event: string, data: string, ttlSeconds: number): Promise<void> {
  const value: CachedEvent = { event, data, at: Date.now() };
  return store.remember(key, JSON.stringify(value), ttlSeconds * 1000);
}

export async function readCache(store: Store, key: string): Promise<CachedEvent | undefined> {
  const text = await store.recall(key);
  if (text === undefined) return undefined;
  const v = JSON.parse(text) as Partial<CachedEvent>;
  return typeof v.event === 'string' && typeof v.data === 'string' && typeof v.at === 'number' ? { event: v.event, data: v.data, at: v.at } : undefined;
}
