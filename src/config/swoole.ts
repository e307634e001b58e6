import { z } from 'zod';

const port = z.number().int().min(0).max(65535);

/**
 * The plain WebSocket listener of `profile: swoole` (docs/migrating-from-swoole.md): a Swoole WebSocket server's
 * clients connect with `new WebSocket("ws://host:9501")`, no SDK, no token; `open`, every message and `close` go to
 * the webhook, whose reply is pushed back to the client.
 */
export const SwooleConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** All interfaces by default, as a Swoole server started on 0.0.0.0. */
    host: z.string().min(1).default('0.0.0.0'),
    port: port.default(9501),
    /**
     * When true, a client must pass a signed token (`herald token <uid>`) as `?token=` on its URL and its connection
     * belongs to the token's user; a missing or bad token closes it. When false anyone may connect, anonymously.
     */
    requireToken: z.boolean().default(false),
    /**
     * Events of one connection waiting for the webhook (the one being posted included). Events are posted one at a
     * time per connection, in order; a message beyond this many (or beyond `limits.maxBufferedBytes` of waiting
     * events) closes the connection with 1008.
     */
    maxPending: z.number().int().min(1).max(10_000).default(64),
    /** Largest message a client may send; a larger one closes that connection with 1009. */
    maxMessageBytes: z
      .number()
      .int()
      .min(256)
      .max(16 * 1024 * 1024)
      .default(64 * 1024),
  })
  .strict();
export type SwooleConfig = z.infer<typeof SwooleConfigSchema>;

export interface InsecureSetting {
  option: string;
  message: string;
}

/** What `profile: swoole` runs with that an operator should know, one warning each; logged at startup. */
export function swooleWarnings(config: { swoole: SwooleConfig; webhook: { url?: string | undefined } }): InsecureSetting[] {
  const s = config.swoole;
  if (!s.enabled) return [];
  const out: InsecureSetting[] = [];
  if (!s.requireToken) {
    out.push({
      option: 'swoole.requireToken',
      message: `OPEN MODE: swoole (${s.host}:${s.port}) accepts any client without a token, and every message it sends is posted to your webhook; check each connection in your backend, or set swoole.requireToken and connect with ?token=<signed token>`,
    });
  }
  if (config.webhook.url === undefined) {
    out.push({
      option: 'webhook.url',
      message: `swoole (${s.host}:${s.port}) has no webhook (HERALD_WEBHOOK_URL): open, message and close events go nowhere and clients get no replies`,
    });
  }
  return out;
}
