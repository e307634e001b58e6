import { channelOfStream, compileChannelPatterns, isUserStream } from '../domain/streams.ts';
import type { RetentionPolicy } from './store.ts';

export interface RetentionConfig {
  channelMaxCount: number;
  channelMaxAgeMs: number;
  userMaxCount: number;
  userMaxAgeMs: number;
  /** First matching rule wins; `pattern` is a channel name or `*` pattern, matched against channel streams. */
  rules: { pattern: string; maxCount?: number; maxAgeMs?: number }[];
}

/**
 * Resolves the retention of a stream: user streams (the inbox) have their own, longer policy; channel streams
 * and `broadcast` take the first matching rule, else the channel default. Results are cached per stream name.
 */
export function retentionResolver(cfg: RetentionConfig): (stream: string) => RetentionPolicy {
  const user: RetentionPolicy = { maxCount: cfg.userMaxCount, maxAgeMs: cfg.userMaxAgeMs };
  const channel: RetentionPolicy = { maxCount: cfg.channelMaxCount, maxAgeMs: cfg.channelMaxAgeMs };
  const rules = cfg.rules.map((r) => ({
    match: compileChannelPatterns([r.pattern]),
    policy: { maxCount: r.maxCount ?? channel.maxCount, maxAgeMs: r.maxAgeMs ?? channel.maxAgeMs },
  }));
  const cache = new Map<string, RetentionPolicy>();
  return (stream) => {
    if (isUserStream(stream)) return user;
    let p = cache.get(stream);
    if (p === undefined) {
      const name = channelOfStream(stream) ?? stream;
      p = rules.find((r) => r.match(name))?.policy ?? channel;
      if (cache.size > 100_000) cache.clear();
      cache.set(stream, p);
    }
    return p;
  };
}
