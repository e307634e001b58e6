import { z } from 'zod';

/**
 * Options of the Workerman / web-msg-sender compatibility listeners (issue: drop-in replacement).
 * Placeholder shape; the compatibility work fills it in. Everything is off unless enabled or `profile: workerman`.
 */
export const CompatConfigSchema = z.object({}).strict();
export type CompatConfig = z.infer<typeof CompatConfigSchema>;
