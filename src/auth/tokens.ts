import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignJWT, base64url, decodeJwt, decodeProtectedHeader } from 'jose';
import { isValidUser } from '../domain/streams.ts';

export interface ClientIdentity {
  user: string;
  /** Channel names or `*` patterns the user may subscribe to (empty: none). */
  channels: string[];
  /** Expiry in ms since the epoch. */
  expiresAt: number;
}

export type TokenCheck = { ok: true; identity: ClientIdentity } | { ok: false; expired: boolean; reason: string };

const ALG = 'HS256';

/**
 * HS256 client tokens: `sub` = user id, `exp` required, optional `channels` claim. Signed with jose.
 *
 * Verified synchronously with node:crypto, not with jose's `jwtVerify`: jose runs HMAC through WebCrypto, whose
 * every call is an asynchronous job on the thread pool, about 40 µs per token here against about 3 µs inline,
 * and every connection (and every reconnect storm after a restart) pays it. jose still decodes the header and the
 * claims; what is done here is the part jose would do the same way: alg pinned to HS256, no `crit`/`b64`, a
 * constant-time signature compare, then `exp` (required) and `nbf`.
 */
export class TokenService {
  private readonly secret: Buffer;

  constructor(secret: string) {
    this.secret = Buffer.from(secret, 'utf8');
  }

  async sign(user: string, opts: { channels?: string[]; ttlSeconds: number }): Promise<string> {
    const jwt = new SignJWT(opts.channels && opts.channels.length > 0 ? { channels: opts.channels } : {})
      .setProtectedHeader({ alg: ALG, typ: 'JWT' })
      .setSubject(user)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + opts.ttlSeconds);
    return jwt.sign(this.secret);
  }

  /** Kept asynchronous for callers, which may later verify other algorithms through jose. */
  verify(token: string): Promise<TokenCheck> {
    return Promise.resolve(this.check(token));
  }

  private check(token: string): TokenCheck {
    const invalid = (reason: string): TokenCheck => ({ ok: false, expired: false, reason });
    const parts = token.split('.');
    if (parts.length !== 3) return invalid('token must have three parts');
    let header: ReturnType<typeof decodeProtectedHeader>;
    let payload: ReturnType<typeof decodeJwt>;
    let signature: Uint8Array;
    try {
      header = decodeProtectedHeader(token);
      payload = decodeJwt(token);
      signature = base64url.decode(parts[2]!);
    } catch (err) {
      return invalid(err instanceof Error ? err.message : 'malformed token');
    }
    if (header.alg !== ALG) return invalid(`alg must be ${ALG}`);
    if (header.crit !== undefined || header.b64 !== undefined) return invalid('unsupported header parameter (crit, b64)');
    const expected = createHmac('sha256', this.secret).update(`${parts[0]}.${parts[1]}`).digest();
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return invalid('signature verification failed');
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.exp !== 'number') return invalid('missing required "exp" claim');
    if (payload.exp <= now) return { ok: false, expired: true, reason: 'token expired' };
    if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now)) return invalid('"nbf" claim timestamp check failed');
    if (!isValidUser(payload.sub)) return invalid('sub is not a valid user id');
    const claim = payload.channels;
    if (claim !== undefined && !(Array.isArray(claim) && claim.every((c) => typeof c === 'string'))) {
      return invalid('channels claim must be an array of strings');
    }
    return { ok: true, identity: { user: payload.sub, channels: (claim as string[] | undefined) ?? [], expiresAt: payload.exp * 1000 } };
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
