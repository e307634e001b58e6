import type { Envelope } from '../core/delivery.ts';
import type { Target } from '../core/hub.ts';

/**
 * Moves envelopes between Herald nodes; never touches sockets.
 *
 * Contract:
 * - The publishing node delivers to its own connections itself; `publish` forwards to the *other* nodes only.
 * - Envelopes of one stream published from one node arrive at every other node in publish order.
 * - Delivery between nodes is at-most-once; gaps are repaired from the Store by offset (resume).
 */
export interface Broker {
  start(onRemote: (target: Target, env: Envelope) => void): Promise<void>;
  /** May return nothing when there is nothing to wait for (one process), which saves the publisher an await. */
  publish(target: Target, env: Envelope): Promise<void> | void;
  /**
   * Some local connection needs this stream: receive it from other nodes. Resolves once that is in effect, so a
   * resume that reads history afterwards cannot miss a message published elsewhere in between.
   */
  watch(stream: string): Promise<void>;
  /** No local connection needs the stream any more. */
  unwatch(stream: string): void;
  close(): Promise<void>;
}
