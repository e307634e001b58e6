import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { announceChannel } from '../store/redis.ts';
import { BROADCAST_STREAM, targetOfStream, type Envelope, type Target } from '../domain/streams.ts';
import type { Position } from '../store/store.ts';
import type { Broker } from './broker.ts';
import { Sequencer, type History } from './sequencer.ts';

const COLON = 0x3a;

/**
 * Reads an announced entry, `<offset>:<epoch>:<exclude>:<event bytes>:<event><data>` (written by the Redis store's
 * append script). Bytes, not characters: the event's length is counted by Lua in bytes.
 */
export function parseAnnouncement(stream: string, msg: Buffer): Envelope | undefined {
  const a = msg.indexOf(COLON);
  const b = a < 0 ? -1 : msg.indexOf(COLON, a + 1);
  const x = b < 0 ? -1 : msg.indexOf(COLON, b + 1);
  const c = x < 0 ? -1 : msg.indexOf(COLON, x + 1);
  if (c < 0) return undefined;
  const offset = Number(msg.toString('latin1', 0, a));
  const evLen = Number(msg.toString('latin1', x + 1, c));
  if (!Number.isSafeInteger(offset) || offset < 1 || !Number.isSafeInteger(evLen) || evLen < 0 || c + 1 + evLen > msg.length) return undefined;
  const epoch = msg.toString('latin1', a + 1, b);
  const data = msg.toString('utf8', c + 1 + evLen);
  const env: Envelope = evLen === 0 ? { stream, offset, epoch, data } : { stream, offset, epoch, data, event: msg.toString('utf8', c + 1, c + 1 + evLen) };
  if (x > b + 1) env.exclude = msg.toString('latin1', b + 1, x);
  return env;
}

/**
 * Redis pub/sub between nodes, one Redis channel per stream (`<announce>{<stream>}`; on a Cluster a sharded channel,
 * in the stream's own slot, so it is carried only by the shard that owns the stream), subscribed only while a local connection needs that
 * stream (`watch`/`unwatch`, driven by the hub), so a node receives its own users' and channels' messages, not the
 * whole cluster's. Nothing is published here: the store's append script announces each entry on the stream's
 * channel in the same atomic step that gives it its offset, so every node, the publisher included, receives a
 * stream in offset order; the Sequencer drops repeats and fills from the store whatever pub/sub lost.
 */
export class RedisBroker implements Broker {
  readonly deliversAll = true;
  private readonly sequencer: Sequencer;
  private onMessage: ((target: Target, env: Envelope) => void) | undefined;

  private readonly sharded: boolean;

  constructor(
    private readonly sub: Redis | Cluster,
    history: History,
    /** The announce prefix the store publishes under (`RedisStoreOptions.announce`). */
    private readonly channelPrefix: string,
    private readonly log: Logger,
  ) {
    this.sharded = sub.isCluster;
    this.sequencer = new Sequencer(
      history,
      (env) => {
        const target = targetOfStream(env.stream);
        if (target !== undefined) this.onMessage?.(target, env);
      },
      (stream, err) => this.log.warn({ err: (err as Error).message, stream }, 'reading a stream gap from the store failed; retrying'),
    );
  }

  async start(onMessage: (target: Target, env: Envelope) => void): Promise<void> {
    this.onMessage = onMessage;
    const prefix = Buffer.from(`${this.channelPrefix}{`);
    this.sub.on(this.sharded ? 'smessageBuffer' : 'messageBuffer', (channel: Buffer, payload: Buffer) => {
      if (channel.length <= prefix.length + 1 || prefix.compare(channel, 0, prefix.length) !== 0) return;
      const stream = channel.toString('utf8', prefix.length, channel.length - 1);
      const env = parseAnnouncement(stream, payload);
      if (env === undefined) {
        this.log.warn({ stream }, 'ignoring a malformed broker message');
        return;
      }
      this.sequencer.push(env);
    });
    await this.watch(BROADCAST_STREAM);
  }

  watch(stream: string): Promise<void> {
    const wasOpen = this.sequencer.has(stream);
    const ready = this.sequencer.open(stream, () => this.subscribe(stream));
    if (!wasOpen) ready.catch((err: Error) => this.log.error({ err: err.message, stream }, 'broker subscribe failed'));
    return ready;
  }

  unwatch(stream: string): void {
    if (stream === BROADCAST_STREAM || !this.sequencer.has(stream)) return;
    this.sequencer.close(stream);
    const channel = this.channelOf(stream);
    (this.sharded ? this.sub.sunsubscribe(channel) : this.sub.unsubscribe(channel)).catch(() => {});
  }

  delivered(stream: string): Position | undefined {
    return this.sequencer.delivered(stream);
  }

  /**
   * The subscriber was disconnected (on a Cluster: a shard's subscriber was replaced after a failover, or a slot
   * moved to another shard), so announcements were lost: once it is subscribed again, every watched stream is read
   * from where this node stood, and what was committed meanwhile is handed on in order.
   */
  resync(): Promise<boolean> {
    // Our own SUBSCRIBE, queued behind the client's automatic resubscription, is answered once it is in effect.
    return this.sequencer.resync((stream) => this.subscribe(stream));
  }

  private subscribe(stream: string): Promise<unknown> {
    const channel = this.channelOf(stream);
    return this.sharded ? this.sub.ssubscribe(channel) : this.sub.subscribe(channel);
  }

  private channelOf(stream: string): string {
    return announceChannel(this.channelPrefix, stream);
  }

  get watchedStreams(): number {
    return this.sequencer.size;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
