import { z } from 'zod';
import { isValidChannel, isValidUser } from '../domain/streams.ts';

const user = z.string().refine(isValidUser, 'must be a non-empty user id of at most 256 characters');
const channel = z.string().refine(isValidChannel, 'must be 1-200 characters of A-Z a-z 0-9 _ - . : @ / = + #');
const list = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(10_000);

// Connection ids are made by Herald (`<node>.<counter>`) and echoed back by backends: printable ASCII, bounded.
const connection = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'must be a connection id (the `session` of a welcome or of a webhook event)');

export const TargetSchema = z.union([
  z.object({ user }).strict(),
  z.object({ users: list(user) }).strict(),
  z.object({ channel }).strict(),
  z.object({ channels: list(channel) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
  z.object({ connection }).strict(),
  z.object({ connections: list(connection) }).strict(),
]);

export const PublishSchema = z
  .object({
    to: z.unknown(),
    data: z.unknown().refine((v) => v !== undefined, 'data is required'),
    event: z.string().min(1).max(128).optional(),
    /** A retried publish with the same key returns the first result instead of publishing again. */
    idempotencyKey: z.string().min(1).max(200).optional(),
    /** Wait up to this many ms for a connection of the target to acknowledge the message (delivery receipt). */
    waitMs: z.number().int().min(0).max(120_000).optional(),
  })
  .strict();

export const BatchSchema = z.object({ messages: z.array(z.unknown()).min(1) }).strict();

/** The keys a target may have: a `to` with one of these but a bad value is a bad value, not an unknown shape. */
export const TARGET_KEYS = ['user', 'users', 'channel', 'channels', 'all', 'connection', 'connections'];

export const UserSchema = z.object({ user }).strict();
export const ChannelSchema = z.object({ channel }).strict();
export const UserChannelSchema = z.object({ user, channel }).strict();
export const DisconnectSchema = z.object({ user, reason: z.string().max(120).optional(), reconnect: z.boolean().default(false) }).strict();
export const ListSchema = z.object({ limit: z.coerce.number().int().min(1).max(100_000).default(1000) }).strict();
export const EmptySchema = z.object({}).strict();

export const ConnectionSchema = z.object({ connection }).strict();
export const ConnectionUserSchema = z.object({ connection, user }).strict();
export const ConnectionChannelSchema = z.object({ connection, channel }).strict();
export const SessionSchema = z
  .object({
    connection,
    /** The new session; `null` clears it. */
    session: z.record(z.string(), z.unknown()).nullable(),
    /** Merge into the stored session (objects key by key, arrays index by index) instead of replacing it. */
    merge: z.boolean().default(false),
  })
  .strict();
export const CloseSchema = z
  .object({
    connection,
    /** A last message, delivered before the close. */
    data: z.unknown().optional(),
    event: z.string().min(1).max(128).optional(),
    reason: z.string().max(120).optional(),
    /** Whether the client may reconnect (native close code 4003) or must stay away (4502), as for a user's disconnect. */
    reconnect: z.boolean().default(false),
  })
  .strict();
