import type { Envelope } from '../domain/streams.ts';
import type { Target } from '../domain/streams.ts';
import type { Position } from '../store/store.ts';

/**
 * Moves stored messages between Herald nodes; never touches sockets.
 *
 * Contract:
 * - With `deliversAll`, the broker hands every message of a watched stream to `onMessage`, the node's own
 *   publishes included, in offset order with no gap and no repeat (entries lost between nodes are read back from
 *   the Store); the dispatcher then leaves local delivery to it. Without it (one process), the dispatcher
 *   delivers itself and there are no other nodes.
 * - Where the messages come from is the Store's business: the Redis store announces each entry atomically with
 *   its offset, which is what makes the order hold across nodes (docs/guarantees.md).
 */
export interface Broker {
  readonly deliversAll: boolean;
  start(onMessage: (target: Target, env: Envelope) => void): Promise<void>;
  /**
   * Some local connection needs this stream: receive it. Resolves once that is in effect and `delivered(stream)`
   * is known, so a resume that reads history afterwards cannot miss a message published elsewhere in between.
   */
  watch(stream: string): Promise<void>;
  /** No local connection needs the stream any more. */
  unwatch(stream: string): void;
  /**
   * With `deliversAll`: the last offset of a watched stream handed to this node's connections. A connection that
   * joins replays the store up to there and takes the rest live, so it gets each message once, in order.
   */
  delivered(stream: string): Position | undefined;
  close(): Promise<void>;
}
