import type { Broker } from '../broker/broker.ts';
import type { Store } from '../store/store.ts';
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

  async publish(req: PublishRequest): Promise<PublishResult> {
    const targets = expandTarget(req.to);
    const results = await Promise.all(targets.map((t) => this.publishOne(t, req.data, req.event)));
    let delivered = 0;
    const streams: StreamResult[] = [];
    for (const r of results) {
      delivered += r.delivered;
      streams.push(r.stream);
    }
    this.published++;
    return { delivered, streams };
  }

  private async publishOne(target: Target, data: string, event: string | undefined): Promise<{ delivered: number; stream: StreamResult }> {
    const stream = streamOf(target);
    const { offset, epoch } = await this.store.append(stream, data, event);
    const env: Envelope = event === undefined ? { stream, offset, epoch, data } : { stream, offset, epoch, data, event };
    const delivered = this.hub.deliver(target, env);
    await this.broker.publish(target, env);
    return { delivered, stream: { stream, offset, epoch } };
  }

  /** Entry point for envelopes that another node published. */
  deliverRemote(target: Target, env: Envelope): void {
    this.hub.deliver(target, env);
  }
}
