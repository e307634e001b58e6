import { z } from 'zod';

/**
 * One Pusher app (docs/pusher.md): pusher-js connects to `/app/<key>` on the main port, the server SDKs call
 * `/apps/<id>/…` signed with `secret`. The limits default to hosted Pusher's, which the clients are written for.
 */
export const PusherAppSchema = z
  .object({
    /** The app id of the HTTP API path; it also names the app's channel namespace (below), hence its characters. */
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'an app id is 1 to 64 of A-Z a-z 0-9 _ . -'),
    key: z.string().min(1).max(128),
    secret: z.string().min(1),
    /** `client-*` events on private and presence channels; off: refused with a `pusher:error` (4301). */
    clientEvents: z.boolean().default(true),
    /** Client events one connection may send per second; more are refused with a `pusher:error`, not a close. */
    clientEventsPerSecond: z.number().int().min(1).max(10_000).default(10),
    /** Largest `data` of an HTTP event or a client event, in bytes (hosted Pusher: 10 KB); larger is a 413 / an error frame. */
    maxMessageBytes: z
      .number()
      .int()
      .min(256)
      .max(1024 * 1024)
      .default(10_240),
    /** Seconds of silence after which pusher-js pings (sent in `connection_established`); must not be 0. */
    activityTimeout: z.number().int().min(1).max(3600).default(120),
    /** Users one presence channel may hold; a subscribe beyond it is refused. */
    maxPresenceMembers: z.number().int().min(1).max(100_000).default(100),
    /** Open connections of this app on this node; 0: no limit. Beyond it a client is closed with 4100 (retry later). */
    maxConnections: z.number().int().min(0).default(0),
    /** Send `pusher_internal:subscription_count` to the subscribers of a non-presence channel when its count changes. */
    subscriptionCount: z.boolean().default(false),
    /** How long a cache channel keeps its last event (Pusher: 30 minutes). */
    cacheTtlSeconds: z.number().int().min(1).max(86_400).default(1800),
    /**
     * Where this app's channels and users live among Herald's: `''` (the first app's default) maps Pusher channel
     * `news` to Herald channel `news`; `'b/'` (the default of a further app with id `b`) maps it to `b/news`. A
     * Pusher name never holds a `/`, so apps with distinct prefixes never see each other's channels.
     */
    channelPrefix: z
      .string()
      .regex(/^([A-Za-z0-9_.-]{1,64}\/)?$/, "a channel prefix is '' or 1 to 64 of A-Z a-z 0-9 _ . - followed by /")
      .optional(),
    /** Where the app's webhooks (channel_occupied, member_added, client_event, …) are POSTed; none when unset. */
    webhookUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  })
  .strict();
export type PusherApp = z.infer<typeof PusherAppSchema>;

export const PusherConfigSchema = z
  .object({
    /**
     * The apps served, each with its own key, secret, limits and channel namespace. Keys, ids and channel
     * prefixes must be distinct.
     */
    apps: z.array(PusherAppSchema).max(100).default([]),
    /** HTTP API requests whose auth_timestamp is further than this from now are refused (replay window); 0 = no check. */
    timestampWindowSeconds: z.number().int().min(0).max(86_400).default(600),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = { id: new Set<string>(), key: new Set<string>(), prefix: new Set<string>() };
    cfg.apps.forEach((app, i) => {
      for (const [field, value] of [
        ['id', app.id],
        ['key', app.key],
        ['prefix', appChannelPrefix(app, i)],
      ] as const) {
        if (seen[field].has(value))
          ctx.addIssue({ code: 'custom', path: ['apps', i, field], message: `two apps have the same ${field} ${JSON.stringify(value)}` });
        seen[field].add(value);
      }
    });
  });
export type PusherConfig = z.infer<typeof PusherConfigSchema>;

/** An app's channel prefix: as configured, else '' for the first app and `<id>/` for the others. */
export function appChannelPrefix(app: Pick<PusherApp, 'id' | 'channelPrefix'>, index: number): string {
  return app.channelPrefix ?? (index === 0 ? '' : `${app.id}/`);
}

/**
 * The app given by `HERALD_PUSHER_APP_ID`, `HERALD_PUSHER_KEY` and `HERALD_PUSHER_SECRET` (all three or none), with
 * `HERALD_PUSHER_WEBHOOK_URL` if set. The URL is checked by the schema, with the rest of the app.
 */
export function pusherAppFromEnv(env: NodeJS.ProcessEnv): {
  app?: { id: string; key: string; secret: string; webhookUrl?: string };
  error?: string;
} {
  const id = env.HERALD_PUSHER_APP_ID ?? '';
  const key = env.HERALD_PUSHER_KEY ?? '';
  const secret = env.HERALD_PUSHER_SECRET ?? '';
  const webhookUrl = env.HERALD_PUSHER_WEBHOOK_URL ?? '';
  const given = [id, key, secret].filter((v) => v !== '').length;
  // Alone it would be ignored: the env app replaces the file's apps only when all three are given.
  if (given === 0 && webhookUrl !== '') return { error: 'HERALD_PUSHER_WEBHOOK_URL needs HERALD_PUSHER_APP_ID, HERALD_PUSHER_KEY and HERALD_PUSHER_SECRET' };
  if (given === 0) return {};
  if (given < 3) return { error: 'HERALD_PUSHER_APP_ID, HERALD_PUSHER_KEY and HERALD_PUSHER_SECRET must be set together' };
  return { app: webhookUrl === '' ? { id, key, secret } : { id, key, secret, webhookUrl } };
}
