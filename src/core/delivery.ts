import type { Envelope } from '../domain/streams.ts';

/**
 * One envelope on its way to local connections. Each wire format encodes it at most once, on first use, and the
 * result is shared by every recipient of that format (no per-recipient JSON or framing work). Core knows no wire
 * format: each transport passes its own module-level encoder.
 */
export class Delivery {
  // Most messages go out in one format only: the first one is kept in two fields, so a fan-out to thousands of
  // connections of that format costs one comparison each, not a map lookup.
  private firstEncoder: ((env: Envelope) => unknown) | undefined;
  private firstValue: unknown;
  /** Further formats, created on first use. */
  private more: Map<(env: Envelope) => unknown, unknown> | undefined;

  constructor(readonly envelope: Envelope) {}

  as<T>(encoder: (env: Envelope) => T): T {
    if (this.firstEncoder === encoder) return this.firstValue as T;
    if (this.firstEncoder === undefined) {
      this.firstEncoder = encoder;
      this.firstValue = encoder(this.envelope);
      return this.firstValue as T;
    }
    this.more ??= new Map();
    let v = this.more.get(encoder) as T | undefined;
    if (v === undefined) {
      v = encoder(this.envelope);
      this.more.set(encoder, v);
    }
    return v;
  }
}
