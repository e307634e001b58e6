// Resuming a stream on a connection, for every transport that offers it (native, Herald's Echo connector on the
// Pusher endpoint): join first and hold the live messages, read what the client missed from the store, then write
// the replay and the held messages with no gap and no duplicate.
import type { Context } from '../../context.ts';
import type { Delivery } from '../../core/delivery.ts';
import { capToDelivered, planRecovery } from '../../core/recovery.ts';
import type { Position, StoredMessage } from '../../store/store.ts';
import type { RecoveryInfo } from '../../protocol/frames.ts';

/** What a resuming connection gives its hold: its frames, and its outbox (methods, so no object per connection). */
export interface ReplayTarget {
  replayFrame(stream: string, epoch: string, m: StoredMessage): Buffer;
  liveFrame(d: Delivery): Buffer;
  /** Whether a frame of this size still fits the outbox. */
  fitsOutbox(bytes: number): boolean;
  writeFrame(frame: Buffer): void;
  /** The replay does not fit the outbox: the client is asked to reconnect and resume after what it got. */
  replayTooBig(): void;
}

/**
 * A connection's streams being resumed: live deliveries of such a stream wait here until the replay is written,
 * and, with several nodes, live deliveries the client already got from a node that was ahead are dropped.
 */
export class RecoveryHold {
  private recovering: Map<string, Delivery[]> | undefined;
  private ahead: Map<string, Position> | undefined;

  /** True when the delivery was held or dropped here; false: the connection writes it. */
  intercept(d: Delivery): boolean {
    if (this.ahead !== undefined && this.isAhead(d)) return true;
    const held = this.recovering?.get(d.envelope.stream);
    if (held === undefined) return false;
    held.push(d);
    return true;
  }

  /** Nothing held or remembered: the connection may drop its hold. */
  get idle(): boolean {
    return this.recovering === undefined && this.ahead === undefined;
  }

  /** Holds live deliveries of `stream` until `end`; call before the store is read. */
  begin(stream: string): void {
    (this.recovering ??= new Map()).set(stream, []);
  }

  /**
   * Where a client with no position in `stream` starts: at `top`, or just before the first live message held since
   * it joined, if that is older (it was published after the client joined, so the client must get it).
   */
  liveStart(stream: string, epoch: string, top: number): number {
    const first = this.recovering?.get(stream)?.[0]?.envelope;
    return first !== undefined && first.epoch === epoch && first.offset <= top ? first.offset - 1 : top;
  }

  /**
   * Writes the replayed messages, then the live ones that arrived meanwhile, skipping any the client already has
   * (offset <= `from`) or that the replay already covered. `live` is where this node's live delivery of the stream
   * stands (several nodes); anything the client has beyond it will still arrive live, and is dropped then.
   */
  end(to: ReplayTarget, stream: string, epoch: string, from: number, replay: readonly StoredMessage[], live?: Position): void {
    let last = from;
    const held = this.recovering?.get(stream) ?? [];
    this.recovering?.delete(stream);
    if (this.recovering?.size === 0) this.recovering = undefined;
    for (const m of replay) {
      if (m.offset <= last) continue;
      const frame = to.replayFrame(stream, epoch, m);
      // A replay larger than the outbox's limit would overflow it before a byte was sent, and the client would come
      // back for the same replay for ever (a slow consumer's is about that size). Send the part that fits, then ask
      // it to reconnect: it resumes after the last message it got, and each round gets further.
      if (!to.fitsOutbox(frame.length)) return to.replayTooBig();
      to.writeFrame(frame);
      last = m.offset;
    }
    for (const d of held) {
      if (d.envelope.epoch !== epoch || d.envelope.offset > last) {
        to.writeFrame(to.liveFrame(d));
        if (d.envelope.epoch === epoch) last = d.envelope.offset;
      }
    }
    if (live !== undefined && live.epoch === epoch && last > live.offset) (this.ahead ??= new Map()).set(stream, { epoch, offset: last });
  }

  private isAhead(d: Delivery): boolean {
    const { stream, offset, epoch } = d.envelope;
    const a = this.ahead?.get(stream);
    if (a === undefined) return false;
    if (a.epoch === epoch && offset <= a.offset) return true;
    this.ahead!.delete(stream);
    if (this.ahead!.size === 0) this.ahead = undefined;
    return false;
  }
}

/** A connection that can resume streams: its hold, made on first use, and its frames. */
export interface Resumable extends ReplayTarget {
  recovery(): RecoveryHold;
  /** A resume ended: the hold may be dropped if it holds nothing more. */
  recoveryDone(): void;
  /** The store could not be read: the connection is asked to reconnect and resume later. */
  resumeFailed(): void;
}

/**
 * Resumes `stream` on `conn`, whose hold must already hold it (`begin`, before the connection joined the stream):
 * other nodes' messages must be arriving before history is read (Broker.watch); the replay stops where this node's
 * live delivery stands (`capToDelivered`). The plan's `from` is the offset the client continues after; without one
 * it starts live, just before the first message held since it joined, and `tell` learns that start.
 */
export function resumeStream(
  ctx: Context,
  conn: Resumable,
  stream: string,
  since: Position | undefined,
  opts: { floor?: Promise<Position | undefined>; replayAll: boolean },
  tell: (info: RecoveryInfo) => void,
): void {
  Promise.all([opts.floor, ctx.broker.watch(stream)])
    .then(([floor]) => planRecovery(ctx.store, stream, since, { floor, replayAll: opts.replayAll }))
    .then(
      (read) => {
        const live = ctx.broker.delivered(stream);
        const plan = capToDelivered(read, live);
        const from = plan.from;
        const epoch = plan.position.epoch;
        const hold = conn.recovery();
        const start = from ?? hold.liveStart(stream, epoch, plan.position.top);
        const top = from === undefined ? start : plan.position.top;
        tell({ stream, recovered: plan.recovered, epoch, top, replay: plan.messages.length });
        hold.end(conn, stream, epoch, start, plan.messages, live);
        conn.recoveryDone();
      },
      (err: unknown) => {
        ctx.log.warn({ err: (err as Error).message, stream }, 'reading history failed: asking the client to reconnect and resume');
        // The history is not lost, only unreachable for now (store down): a reconnect with backoff resumes it
        // later, where answering `recovered: false` would make the application reload for nothing.
        conn.resumeFailed();
      },
    );
}
