import type { Broker } from '../broker/broker.ts';
import type { AppendRecord, Store } from '../store/store.ts';
import type { Envelope } from './delivery.ts';
import type { Hub, Target } from './hub.ts';
import { BROADCAST_STREAM, channelStream, userStream } from './names.ts';

/** Publish targets as the APIs accept them (already validated). */
export type PublishTarget =
  | { user: string }
  | { users: string[] }
  | { channel: string }
  | { channels: string[] }
  | { all: true };

export interface PublishRequest {
  to: PublishTarget;
  /** Serialized JSON of the data, produced once by the caller. */
  data: string;
  event?: string;
}

export interface StreamResult {
  stream: string;
  offset: number;
  epoch: string;
}

export interface PublishResult {
  /** Local connections the message was queued on. */
  delivered: number;
  streams: StreamResult[];
}

export function expandTarget(to: PublishTarget): Target[] {
  if ('user' in to) return [{ kind: 'user', user: to.user }];
  if ('users' in to) return [...new Set(to.users)].map((user) => ({ kind: 'user', user }));
  if ('channel' in to) return [{ kind: 'channel', channel: to.channel }];
  if ('channels' in to) return [...new Set(to.channels)].map((channel) => ({ kind: 'channel', channel }));
  return [{ kind: 'all' }];
}

export function streamOf(t: Target): string {
  switch (t.kind) {
    case 'user':
      return userStream(t.user);
    case 'channel':
      return channelStream(t.channel);
    case 'all':
      return BROADCAST_STREAM;
  }
}

/**
 * The one place that publishes: store (offset) -> local hub -> broker (other nodes). APIs, the line port and
 * compatibility listeners are publishers; none of them writes to a socket itself.
 */
export class Dispatcher {
  published = 0;

  constructor(
    private readonly hub: Hub,
    private readonly store: Store,
    private readonly broker: Broker,
  ) {}

  /**
   * Stores the message in every target stream (atomically, with the idempotency record when given), then
   * delivers locally and forwards to other nodes. Nothing is delivered that is not stored.
   */
  async publish(req: PublishRequest, record?: AppendRecord): Promise<PublishResult> {
    const targets = expandTarget(req.to);
    const items = targets.map((t) => (req.event === undefined ? { stream: streamOf(t), data: req.data } : { stream: streamOf(t), data: req.data, event: req.event }));
    const stored = await this.store.appendAll(items, record);
    const streams: StreamResult[] = [];
    let delivered = 0;
    for (let i = 0; i < targets.length; i++) {
      const { stream } = items[i]!;
      const { offset, epoch } = stored[i]!;
      streams.push({ stream, offset, epoch });
      const env: Envelope = req.event === undefined ? { stream, offset, epoch, data: req.data } : { stream, offset, epoch, data: req.data, event: req.event };
      delivered += this.hub.deliver(targets[i]!, env);
      const forwarded = this.broker.publish(targets[i]!, env);
      if (forwarded !== undefined) await forwarded;
    }
    this.published++;
    return { delivered, streams };
  }

  /** Entry point for envelopes that another node published. */
  deliverRemote(target: Target, env: Envelope): void {
    this.hub.deliver(target, env);
  }
}
