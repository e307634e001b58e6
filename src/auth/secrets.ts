import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { HeraldConfig } from '../config.ts';

export interface Secrets {
  apiKey: string;
  tokenSecret: string;
  /** Path of the secrets file when any value came from (or was written to) it. */
  file?: string;
  generated: boolean;
}

export function secretsPath(dataDir: string): string {
  return join(resolve(dataDir), 'secrets.json');
}

/**
 * Returns the API key and token secret: configured values win; missing ones are read from
 * `<dataDir>/secrets.json`, generated there (mode 0600) on first start, so a fresh clone runs securely with no setup.
 */
export function ensureSecrets(config: HeraldConfig, opts: { create: boolean } = { create: true }): Secrets {
  if (config.apiKey !== undefined && config.tokenSecret !== undefined) {
    return { apiKey: config.apiKey, tokenSecret: config.tokenSecret, generated: false };
  }
  const file = secretsPath(config.dataDir);
  let stored: Partial<Record<'apiKey' | 'tokenSecret', string>> = {};
  if (existsSync(file)) {
    try {
      stored = JSON.parse(readFileSync(file, 'utf8')) as typeof stored;
    } catch (err) {
      throw new Error(`cannot read ${file}: ${(err as Error).message}; fix or delete it to generate new secrets`, { cause: err });
    }
  }
  let generated = false;
  if (typeof stored.apiKey !== 'string' || typeof stored.tokenSecret !== 'string') {
    if (!opts.create) throw new Error(`no API key / token secret configured and ${file} does not exist; start the server once or set HERALD_TOKEN_SECRET`);
    stored = {
      apiKey: typeof stored.apiKey === 'string' ? stored.apiKey : randomBytes(24).toString('base64url'),
      tokenSecret: typeof stored.tokenSecret === 'string' ? stored.tokenSecret : randomBytes(32).toString('base64url'),
    };
    mkdirSync(resolve(config.dataDir), { recursive: true });
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    generated = true;
  }
  return {
    apiKey: config.apiKey ?? stored.apiKey!,
    tokenSecret: config.tokenSecret ?? stored.tokenSecret!,
    file,
    generated,
  };
}
