import type { Broker } from '../broker/broker.ts';
import type { AppendItem, AppendRecord, AppendResult, Store } from '../store/store.ts';
import { expandTarget, streamOf, type Envelope, type StreamTarget, type Target } from '../domain/streams.ts';
import type { Hub } from './hub.ts';

export interface PublishRequest {
  to: StreamTarget;
  /** Serialized JSON of the data, produced once by the caller. */
  data: string;
  event?: string;
  /** A connection id not to deliver to, on whichever node it is (see `Envelope.exclude`). */
  exclude?: string;
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

interface Plan {
  req: PublishRequest;
  targets: Target[];
  items: AppendItem[];
}

function planOf(req: PublishRequest): Plan {
  const targets = expandTarget(req.to);
  const items = targets.map((t): AppendItem => {
    const item: AppendItem = req.event === undefined ? { stream: streamOf(t), data: req.data } : { stream: streamOf(t), data: req.data, event: req.event };
    if (req.exclude !== undefined) item.exclude = req.exclude;
    return item;
  });
  return { req, targets, items };
}

/**
 * The one place that publishes: store (offset) -> local hub, or, with several nodes, the broker, which hands every
 * node's messages (this node's own included) to `deliverFromBroker` in offset order. APIs, the line port and
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
   * delivers it. Nothing is delivered that is not stored.
   */
  async publish(req: PublishRequest, record?: AppendRecord): Promise<PublishResult> {
    const plan = planOf(req);
    const stored = await this.store.appendAll(plan.items, record);
    return this.deliverStored(plan, stored, 0);
  }

  /**
   * Several messages in one store append (one transaction or script for all, offsets in array order), then each
   * delivered as `publish` does. For a batch this saves a promise chain per message; a store failure fails them all,
   * and none of them was stored.
   */
  async publishMany(reqs: readonly PublishRequest[]): Promise<PublishResult[]> {
    const plans = reqs.map(planOf);
    const items: AppendItem[] = [];
    for (const p of plans) for (const it of p.items) items.push(it);
    const stored = await this.store.appendAll(items);
    const results: PublishResult[] = [];
    let from = 0;
    for (const p of plans) {
      results.push(this.deliverStored(p, stored, from));
      from += p.items.length;
    }
    return results;
  }

  /**
   * Delivers one stored message to the local hub; with a broker that delivers everything, counts the local
   * recipients instead, which the broker's copy reaches in stream order (delivering here too would let this node's
   * message overtake an older one of another node that is still on its way).
   */
  private deliverStored(plan: Plan, stored: readonly AppendResult[], from: number): PublishResult {
    const { req, targets, items } = plan;
    const streams: StreamResult[] = [];
    const viaBroker = this.broker.deliversAll;
    let delivered = 0;
    for (let i = 0; i < targets.length; i++) {
      const { stream } = items[i]!;
      const { offset, epoch } = stored[from + i]!;
      streams.push({ stream, offset, epoch });
      if (viaBroker) {
        delivered += this.hub.count(targets[i]!);
        continue;
      }
      const env: Envelope = req.event === undefined ? { stream, offset, epoch, data: req.data } : { stream, offset, epoch, data: req.data, event: req.event };
      if (req.exclude !== undefined) env.exclude = req.exclude;
      delivered += this.hub.deliver(targets[i]!, env);
    }
    this.published++;
    return { delivered, streams };
  }

  /** Entry point for the broker's messages, in stream order. */
  deliverFromBroker(target: Target, env: Envelope): void {
    this.hub.deliver(target, env);
  }
}
