// Stream and channel naming. Every delivery belongs to exactly one stream, and offsets are per stream:
//   user:<id>        a user's personal stream (all of that user's connections)
//   channel:<name>   a channel
//   broadcast        messages to everyone
export const BROADCAST_STREAM = 'broadcast';

export function userStream(user: string): string {
  return `user:${user}`;
}

export function channelStream(channel: string): string {
  return `channel:${channel}`;
}

const CHANNEL_RE = /^[A-Za-z0-9_\-.:@/=+#]{1,200}$/;
const PATTERN_RE = /^[A-Za-z0-9_\-.:@/=+#*]{1,200}$/;

export function isValidChannel(name: unknown): name is string {
  return typeof name === 'string' && CHANNEL_RE.test(name);
}

export function isValidUser(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= 256 && !/[\u0000-\u001f]/.test(id);
}

/** Token `channels` entries: exact names, or patterns where `*` matches any run of characters. */
export function compileChannelPatterns(patterns: readonly string[]): (channel: string) => boolean {
  const exact = new Set<string>();
  const globs: RegExp[] = [];
  for (const p of patterns) {
    if (!PATTERN_RE.test(p)) continue;
    if (p === '*') return () => true;
    if (!p.includes('*')) exact.add(p);
    else globs.push(new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`));
  }
  return (channel) => exact.has(channel) || globs.some((g) => g.test(channel));
}
