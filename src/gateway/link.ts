import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { PublishRequest } from '../core/dispatcher.ts';
import { Cmd, encodeReply, FrameReader, type GatewayFrame } from '../protocol/gatewayworker/index.ts';
import type { GatewayConn, WorkerRef } from '../transports/gateway/types.ts';

/** Frames read but not applied yet before the link stops reading from its socket (a worker far ahead of the store). */
const MAX_QUEUED_FRAMES = 1024;

/**
 * Links written to in this event-loop turn. A worker link gets one frame per client message, and one write syscall
 * each was about a third of the gateway's CPU in the round-trip bench (bench/gateway.ts). So the first frame of a
 * turn is written at once (a lone event goes out as before, without waiting) and the ones after it are corked until
 * the end of the turn (setImmediate, as the clients' outboxes flush, core/outbox.ts): one writev for the rest.
 */
const busyLinks: InnerLink[] = [];

function endTurn(): void {
  for (const link of busyLinks.splice(0)) link.endTurn();
}

/** What a link needs from the gateway. */
export interface LinkHost {
  readonly log: Logger;
  /** Authorized from the first byte: the gateway has no secret. */
  readonly open: boolean;
  /** The stored publish this frame amounts to, if it is one; the link issues it. */
  storedPublish(frame: GatewayFrame): PublishRequest | undefined;
  publish(req: PublishRequest): Promise<unknown>;
  /** Applies any other frame, synchronously (a query answers through `link.reply`). */
  handle(link: InnerLink, frame: GatewayFrame): void;
  linkClosed(link: InnerLink): void;
}

/**
 * One TCP connection on the inner port: a BusinessWorker's link (after cmd 200), a worker's query link or a
 * GatewayClient call. Frames are applied strictly in arrival order, including those that arrive just before the
 * peer's FIN (a GatewayClient writes and closes at once). A stored publish (sendToUid, sendToGroup, sendToAll) is
 * asynchronous; consecutive ones are issued together (the store gives them offsets in order) and any other frame
 * waits until they are delivered, so `sendToGroup` then `joinGroup` from one worker never lets the joining client
 * see that message (§9.5).
 */
export class InnerLink implements WorkerRef {
  authorized: boolean;
  /** Set once a WORKER_CONNECT succeeded: the routing key `remote ip:worker_key`. */
  workerKey: string | undefined;
  /** Clients routed to this worker (least-connections routing). */
  load = 0;
  open = true;
  private readonly reader = new FrameReader();
  private queue: GatewayFrame[] = [];
  private next = 0;
  private inflight: Promise<unknown> | undefined;
  private inflightCount = 0;
  private waiting = false;
  private ended = false;
  private paused = false;
  // Flood accounting: bytes written to this link, and the client messages among them not yet taken by the kernel.
  private written = 0;
  private readonly fifoConns: GatewayConn[] = [];
  private readonly fifoEnds: number[] = [];
  private readonly fifoSizes: number[] = [];
  private fifoHead = 0;
  /** Written to in this turn (listed in busyLinks); corked: later frames of the turn wait for its end. */
  private busy = false;
  private corked = false;
  /** Shutdown has begun (`end`): nothing more the peer sends is applied. */
  private ending = false;

  constructor(
    private readonly host: LinkHost,
    readonly socket: Socket,
  ) {
    this.authorized = host.open;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.finishIfIdle();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.open = false;
      this.host.linkClosed(this);
    });
    socket.on('drain', () => this.settle());
  }

  get remoteIp(): string {
    const a = this.socket.remoteAddress ?? '';
    return a.startsWith('::ffff:') ? a.slice(7) : a;
  }

  /** Writes one event frame; `conn` when it carries that client's message (the flood bound counts it). */
  write(frame: Buffer, conn?: GatewayConn): void {
    if (!this.open || this.socket.destroyed) return;
    this.written += frame.length;
    if (conn !== undefined) {
      conn.pending += frame.length;
      this.fifoConns.push(conn);
      this.fifoEnds.push(this.written);
      this.fifoSizes.push(frame.length);
    }
    if (!this.busy) {
      this.busy = true;
      if (busyLinks.push(this) === 1) setImmediate(endTurn);
    } else if (!this.corked) {
      this.corked = true;
      this.socket.cork();
    }
    this.socket.write(frame);
  }

  /** End of the turn: the frames corked in it go to the kernel (replies written meanwhile stay in order behind them). */
  endTurn(): void {
    this.busy = false;
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  /** Forgets the client messages the kernel has taken, so their clients' `pending` drops. */
  settle(): void {
    const taken = this.written - this.socket.writableLength;
    while (this.fifoHead < this.fifoEnds.length && this.fifoEnds[this.fifoHead]! <= taken) {
      this.fifoConns[this.fifoHead]!.pending -= this.fifoSizes[this.fifoHead]!;
      this.fifoHead++;
    }
    if (this.fifoHead > 0 && (this.fifoHead === this.fifoEnds.length || this.fifoHead > 1024)) {
      this.fifoConns.splice(0, this.fifoHead);
      this.fifoEnds.splice(0, this.fifoHead);
      this.fifoSizes.splice(0, this.fifoHead);
      this.fifoHead = 0;
    }
  }

  /** One reply frame (§3.2). */
  reply(payload: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(encodeReply(payload));
  }

  /** Drops the link at once (a refused peer: nothing more it sent is applied). */
  close(): void {
    // What this turn queued goes out first, as it did before writes were corked.
    this.endTurn();
    this.socket.destroy();
  }

  /**
   * Shutdown: ends the link once what was written has gone out (the ON_CLOSE of the clients the shutdown dropped),
   * which destroying it at once would discard. Nothing more the peer sends is applied; a peer that does not close
   * its side is cut off after 1 s.
   */
  end(): Promise<void> {
    const s = this.socket;
    this.ending = true;
    if (s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      // Not unref'd: a shutdown waits for it. The socket keeps reading (what arrives is dropped in `receive`), so
      // the peer's own FIN is seen and the link closes as soon as the peer has read ours.
      const cut = setTimeout(() => s.destroy(), 1000);
      s.once('close', () => {
        clearTimeout(cut);
        resolve();
      });
      s.end();
    });
  }

  private receive(chunk: Buffer): void {
    if (this.ending) return;
    const { frames, error } = this.reader.push(chunk);
    for (const f of frames) this.queue.push(f);
    if (error !== undefined) {
      this.host.log.warn({ err: error.message, peer: this.remoteIp }, 'gateway inner port: bad frame, connection closed');
      // The frames before the bad one are still applied (the original applies them too).
      this.socket.destroy();
    }
    if (!this.paused && this.queue.length - this.next > MAX_QUEUED_FRAMES) {
      this.paused = true;
      this.socket.pause();
    }
    this.pump();
  }

  private pump(): void {
    const { host } = this;
    while (!this.waiting && this.next < this.queue.length) {
      const f = this.queue[this.next]!;
      if (!this.authorized && f.cmd !== Cmd.WORKER_CONNECT && f.cmd !== Cmd.GATEWAY_CLIENT_CONNECT) {
        // §6.6: with a secret, anything before a successful 200/202 closes the connection, unanswered.
        this.queue = [];
        this.next = 0;
        this.socket.destroy();
        return;
      }
      const req = this.authorized ? host.storedPublish(f) : undefined;
      if (req !== undefined) {
        this.next++;
        this.issue(req);
        continue;
      }
      if (this.inflightCount > 0) {
        this.waiting = true;
        void this.inflight!.then(() => {
          this.waiting = false;
          this.pump();
        });
        return;
      }
      this.next++;
      host.handle(this, f);
    }
    if (this.next === this.queue.length) {
      this.queue = [];
      this.next = 0;
    }
    if (this.paused && this.queue.length - this.next < MAX_QUEUED_FRAMES / 2) {
      this.paused = false;
      this.socket.resume();
    }
    this.finishIfIdle();
  }

  private issue(req: PublishRequest): void {
    this.inflightCount++;
    this.inflight = this.host.publish(req).then(
      () => {
        this.inflightCount--;
        this.finishIfIdle();
      },
      (err: unknown) => {
        this.inflightCount--;
        this.host.log.error({ err }, 'gateway: a publish failed');
        this.finishIfIdle();
      },
    );
  }

  /** The peer sent FIN and everything it sent is applied: end our side (replies written first). */
  private finishIfIdle(): void {
    if (this.ended && !this.waiting && this.inflightCount === 0 && this.next >= this.queue.length && !this.socket.destroyed) this.socket.end();
  }
}
