import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
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
 * and every connection (and every reconnect storm after a restart) pays it. jose's decoders were the next cost
 * (about 12 µs a token: each segment decoded twice, and the header parsed again for every token although a
 * backend signs all its tokens with one header), so the checks are made here in the order jose makes them: the
 * header (parsed once per distinct header segment) with alg pinned to HS256 and no `crit`/`b64`; the signature,
 * decoded as jose decodes it and compared in constant time; only then the claims, `exp` (required) and `nbf`.
 * test/unit/tokens.test.ts holds the result to jose's `jwtVerify` over generated tokens.
 */
export class TokenService {
  private readonly secret: Buffer;
  /** Header segments seen, and what they say (a reason when refused); a handful per installation. */
  private readonly headers = new Map<string, string | undefined>();

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
    const [h, p, sig] = parts as [string, string, string];
    const refused = this.headerCheck(h);
    if (refused !== undefined) return invalid(refused);
    const signature = base64url(sig);
    if (signature === undefined) return invalid('invalid token signature');
    const expected = createHmac('sha256', this.secret).update(`${h}.${p}`).digest();
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return invalid('signature verification failed');
    const payload = segment(p);
    if (payload === undefined) return invalid('invalid JWT claims set');
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

  /** Why the header segment `h` is refused, or undefined; remembered for the first MAX_HEADERS distinct segments. */
  private headerCheck(h: string): string | undefined {
    if (this.headers.has(h)) return this.headers.get(h);
    const header = segment(h);
    let refused: string | undefined;
    if (header === undefined) refused = 'invalid token header';
    else if (header.alg !== ALG) refused = `alg must be ${ALG}`;
    else if (header.crit !== undefined || header.b64 !== undefined) refused = 'unsupported header parameter (crit, b64)';
    if (this.headers.size < MAX_HEADERS) this.headers.set(h, refused);
    return refused;
  }
}

/** A token's headers remembered at most: anyone may send any header, so the memory is bounded. */
const MAX_HEADERS = 64;

/** A base64url segment holding a JSON object, or undefined. */
function segment(text: string): Record<string, unknown> | undefined {
  const bytes = base64url(text);
  if (bytes === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const CLEAN = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes base64url as jose does on Node (WHATWG forgiving-base64, `atob`): ASCII whitespace skipped, up to two
 * `=` of padding, any other byte refused. Herald accepted such tokens when jose decoded them (hand-written PHP
 * signers often keep base64's padding), so it still does. Buffer's own decoder would also skip foreign bytes.
 */
function base64url(text: string): Buffer | undefined {
  let t = text;
  if (!CLEAN.test(t)) {
    t = t.replace(/[\t\n\f\r ]/g, '');
    if (t.length % 4 === 0) t = t.replace(/={1,2}$/, '');
    if (!CLEAN.test(t)) return undefined;
  }
  return t.length % 4 === 1 ? undefined : Buffer.from(t, 'base64url');
}
/** Parses durations such as `90`, `30s`, `15m`, `1h`, `7d` into seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return n * unit;
}
