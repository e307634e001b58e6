import { SignJWT, jwtVerify, errors } from 'jose';
import { isValidUser } from '../core/names.ts';

export interface ClientIdentity {
  user: string;
  /** Channel names or `*` patterns the user may subscribe to (empty: none). */
  channels: string[];
  /** Expiry in ms since the epoch. */
  expiresAt: number;
}

export type TokenCheck = { ok: true; identity: ClientIdentity } | { ok: false; expired: boolean; reason: string };

const ALG = 'HS256';

/** HS256 client tokens: `sub` = user id, `exp` required, optional `channels` claim. */
export class TokenService {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(user: string, opts: { channels?: string[]; ttlSeconds: number }): Promise<string> {
    const jwt = new SignJWT(opts.channels && opts.channels.length > 0 ? { channels: opts.channels } : {})
      .setProtectedHeader({ alg: ALG, typ: 'JWT' })
      .setSubject(user)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + opts.ttlSeconds);
    return jwt.sign(this.key);
  }

  async verify(token: string): Promise<TokenCheck> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: [ALG], requiredClaims: ['sub', 'exp'] });
      if (!isValidUser(payload.sub)) return { ok: false, expired: false, reason: 'sub is not a valid user id' };
      const claim = payload.channels;
      if (claim !== undefined && !(Array.isArray(claim) && claim.every((c) => typeof c === 'string'))) {
        return { ok: false, expired: false, reason: 'channels claim must be an array of strings' };
      }
      return { ok: true, identity: { user: payload.sub, channels: (claim as string[] | undefined) ?? [], expiresAt: (payload.exp as number) * 1000 } };
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { ok: false, expired: true, reason: 'token expired' };
      return { ok: false, expired: false, reason: err instanceof Error ? err.message : 'invalid token' };
    }
  }
}

/** Parses durations such as `90`, `30s`, `15m`, `1h`, `7d` into seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return n * unit;
}
