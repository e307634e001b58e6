import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Envelope } from '../core/delivery.ts';
import type { Target } from '../core/hub.ts';
import { BROADCAST_STREAM } from '../core/names.ts';
import type { Broker } from './broker.ts';

/** The delivery target a stream name stands for (the inverse of `streamOf`). */
export function targetOfStream(stream: string): Target | undefined {
  if (stream === BROADCAST_STREAM) return { kind: 'all' };
  if (stream.startsWith('user:')) return { kind: 'user', user: stream.slice(5) };
  if (stream.startsWith('channel:')) return { kind: 'channel', channel: stream.slice(8) };
  return undefined;
}

/**
 * Redis pub/sub between nodes, one Redis channel per stream, subscribed only while a local connection needs that
 * stream (`watch`/`unwatch`, driven by the hub), so a node receives its own users' and channels' messages, not the
 * whole cluster's. One publishing connection per node keeps each node's publishes to a stream in order.
 */
export class RedisBroker implements Broker {
  private readonly watching = new Map<string, Promise<void>>();
  private onRemote: ((target: Target, env: Envelope) => void) | undefined;

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly prefix: string,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  async start(onRemote: (target: Target, env: Envelope) => void): Promise<void> {
    this.onRemote = onRemote;
    const chanPrefix = `${this.prefix}m:`;
    this.sub.on('message', (channel: string, payload: string) => {
      if (!channel.startsWith(chanPrefix)) return;
      let msg: { n: string; e: Envelope };
      try {
        msg = JSON.parse(payload) as { n: string; e: Envelope };
      } catch {
        this.log.warn({ channel }, 'ignoring a malformed broker message');
        return;
      }
      // The publishing node delivered to its own connections already.
      if (msg.n === this.nodeId) return;
      const target = targetOfStream(msg.e.stream);
      if (target !== undefined) this.onRemote?.(target, msg.e);
    });
    await this.watch(BROADCAST_STREAM);
  }

  async publish(_target: Target, env: Envelope): Promise<void> {
    await this.pub.publish(`${this.prefix}m:${env.stream}`, JSON.stringify({ n: this.nodeId, e: env }));
  }

  watch(stream: string): Promise<void> {
    let p = this.watching.get(stream);
    if (p === undefined) {
      p = this.sub.subscribe(`${this.prefix}m:${stream}`).then(() => undefined);
      // A failed subscribe must not stay cached: the next interest retries.
      p.catch((err: Error) => {
        this.watching.delete(stream);
        this.log.error({ err: err.message, stream }, 'broker subscribe failed');
      });
      this.watching.set(stream, p);
    }
    return p;
  }

  unwatch(stream: string): void {
    if (stream === BROADCAST_STREAM || !this.watching.delete(stream)) return;
    this.sub.unsubscribe(`${this.prefix}m:${stream}`).catch(() => {});
  }

  get watchedStreams(): number {
    return this.watching.size;
  }

  close(): Promise<void> {
    this.watching.clear();
    return Promise.resolve();
  }
}
