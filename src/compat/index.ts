import type { Context } from '../core/context.ts';
import type { Operation } from '../api/operations.ts';

/** The compatibility listeners as one unit the composition root starts and stops. */
export interface CompatListeners {
  listen(): Promise<void>;
  /** Stops accepting and closes compat connections (graceful shutdown). */
  close(): Promise<void>;
  /** Where each listener ended up (port 0 in tests resolves to the real port). */
  addresses(): Record<string, { host: string; port: number }>;
}

export function createCompat(_ctx: Context, _ops: Record<string, Operation>): CompatListeners {
  return {
    listen: () => Promise.resolve(),
    close: () => Promise.resolve(),
    addresses: () => ({}),
  };
}
