import { z } from 'zod';

/**
 * Options of the Workerman / web-msg-sender compatibility listeners (issue: drop-in replacement).
 * Placeholder shape; the compatibility work fills it in. Everything is off unless enabled or `profile: workerman`.
 */
export const CompatConfigSchema = z.object({}).strict();
export type CompatConfig = z.infer<typeof CompatConfigSchema>;

/**
 * Defaults a profile brings, merged *under* the config file, env and flags (so each can still be overridden).
 * Shape: a partial of the whole Herald config input (e.g. `{ line: { port: 5679 }, compat: {...} }`).
 */
export const PROFILE_DEFAULTS: Record<'workerman', Record<string, unknown>> = {
  workerman: {},
};

/** Contradictions involving compat listeners (port clashes etc.), as messages; empty when consistent. */
export function compatContradictions(_config: { host: string; port: number; line: { enabled: boolean; host: string; port: number }; compat: CompatConfig }): string[] {
  return [];
}
