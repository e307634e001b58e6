import { z } from 'zod';
import { isValidChannel, isValidUser } from '../core/names.ts';

const user = z.string().refine(isValidUser, 'must be a non-empty user id of at most 256 characters');
const channel = z.string().refine(isValidChannel, 'must be 1-200 characters of A-Z a-z 0-9 _ - . : @ / = + #');
const list = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(10_000);

export const TargetSchema = z.union([
  z.object({ user }).strict(),
  z.object({ users: list(user) }).strict(),
  z.object({ channel }).strict(),
  z.object({ channels: list(channel) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
]);

export const PublishSchema = z
  .object({
    to: z.unknown(),
    data: z.unknown().refine((v) => v !== undefined, 'data is required'),
    event: z.string().min(1).max(128).optional(),
  })
  .strict();

export const UserSchema = z.object({ user }).strict();
export const ChannelSchema = z.object({ channel }).strict();
export const UserChannelSchema = z.object({ user, channel }).strict();
export const DisconnectSchema = z
  .object({ user, reason: z.string().max(120).optional(), reconnect: z.boolean().default(false) })
  .strict();
export const ListSchema = z.object({ limit: z.coerce.number().int().min(1).max(100_000).default(1000) }).strict();
export const EmptySchema = z.object({}).strict();
