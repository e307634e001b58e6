import { encodeMessage } from '../protocol/frames.ts';
import { frameText } from '../protocol/wsframe.ts';

/** What travels from the dispatcher to every node's hub: one stored message of one stream. */
export interface Envelope {
  stream: string;
  offset: number;
  epoch: string;
  /** Serialized JSON of the published data. */
  data: string;
  event?: string;
}

/**
 * One envelope on its way to local connections. Each wire format encodes it at most once, on first use, and the
 * result is shared by every recipient of that format (no per-recipient JSON or framing work).
 */
export class Delivery {
  private nativeFrame: Buffer | undefined;
  /** Created on first use: most deliveries only ever need the native frame. */
  private encoded: Map<(env: Envelope) => unknown, unknown> | undefined;

  constructor(readonly envelope: Envelope) {}

  /** The native protocol's WebSocket frame for this message. */
  native(): Buffer {
    if (this.nativeFrame === undefined) {
      const e = this.envelope;
      this.nativeFrame = frameText(encodeMessage(e.stream, e.offset, e.epoch, e.data, e.event));
    }
    return this.nativeFrame;
  }

  /** Other transports memoize their own encoding through this. */
  as<T>(encoder: (env: Envelope) => T): T {
    this.encoded ??= new Map();
    let v = this.encoded.get(encoder) as T | undefined;
    if (v === undefined) {
      v = encoder(this.envelope);
      this.encoded.set(encoder, v);
    }
    return v;
  }
}
