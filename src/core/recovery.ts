import type { Position, Store, StoredMessage, StreamPosition } from '../store/store.ts';

export interface RecoveryPlan {
  /**
   * False when the client's position cannot be continued without a gap (history trimmed, or a new epoch) or
   * names messages that were never stored (beyond the stream's top).
   */
  recovered: boolean;
  /** The offset the replay continues after; undefined when the client starts live (no usable position, no replay). */
  from: number | undefined;
  position: StreamPosition;
  messages: StoredMessage[];
}

const PAGE = 1000;

/**
 * Works out what a (re)connecting client missed on one stream and reads it.
 * - `since`: the client's own last position, if it has one.
 * - `floor`: a server-side position to continue from when the client has none or is behind it (a user's
 *   acknowledged inbox position); `replayAll` replays everything retained when neither applies (the inbox of a
 *   brand-new device), otherwise the client just goes live.
 */
export async function planRecovery(
  store: Store,
  stream: string,
  since: Position | undefined,
  opts: { floor?: Position | undefined; replayAll: boolean },
): Promise<RecoveryPlan> {
  const position = await store.position(stream);
  // A position past the top of its own epoch names messages that were never stored: a corrupted or foreign value,
  // or a store that lost its newest entries without a new epoch (a restored backup, a Redis failover). Continuing
  // from it would skip the messages that are given those offsets next, so it is treated as no position at all,
  // and answered `recovered: false`. (Only the store's top counts here: a client ahead of where this node's live
  // delivery stands, with several nodes, is within it; see capToDelivered.)
  const usable = (p: Position | undefined) => (p !== undefined && p.epoch === position.epoch && p.offset <= position.top ? p.offset : undefined);
  const own = usable(since);
  const floor = usable(opts.floor);
  let from: number;
  let recovered: boolean;
  if (own !== undefined || floor !== undefined) {
    from = Math.max(own ?? 0, floor ?? 0);
    // A position from a lost epoch cannot be continued whatever the floor says: what followed it there is gone.
    recovered = from >= position.first - 1 && (since === undefined || own !== undefined);
  } else if (opts.replayAll) {
    from = 0;
    // A client that had a position in another epoch lost what that epoch held; a first-time client did not.
    recovered = since === undefined && (position.first === 1 || position.top === 0);
  } else {
    return { recovered: since === undefined, from: undefined, position, messages: [] };
  }
  const messages: StoredMessage[] = [];
  for (let after = from; ;) {
    const page = await store.read(stream, after, PAGE);
    messages.push(...page);
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.offset;
  }
  return { recovered, from, position, messages };
}

/**
 * With several nodes, a connection's replay ends where this node's live delivery of the stream stands
 * (`Broker.delivered`): what the store holds beyond it is on its way to this node and reaches the connection
 * live, in order. Replaying it too would send it twice.
 */
export function capToDelivered(plan: RecoveryPlan, delivered: Position | undefined): RecoveryPlan {
  if (delivered === undefined || delivered.epoch !== plan.position.epoch || delivered.offset >= plan.position.top) return plan;
  const top = delivered.offset;
  return { ...plan, position: { ...plan.position, top }, messages: plan.messages.filter((m) => m.offset <= top) };
}
