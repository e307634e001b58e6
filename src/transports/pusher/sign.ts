// The Pusher signatures (reference §5 and §10.1): HMAC-SHA256 with the app secret, lower-case hex, compared in
// constant time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export function hmacHex(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}

/** Constant-time equality of two strings; unequal lengths compare the given string with itself first. */
export function safeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/**
 * A subscription's or sign-in's `auth` (`<key>:<hex HMAC of toSign>`) checked against the app's key and secret.
 * `toSign` is built from the exact strings the client sent (`channel_data`, `user_data`), never a re-encoding.
 */
export function verifyAuth(key: string, secret: string, auth: unknown, toSign: string): boolean {
  if (typeof auth !== 'string') return false;
  const colon = auth.indexOf(':');
  if (colon < 0) return false;
  const keyOk = safeEqual(auth.slice(0, colon), key);
  const sigOk = safeEqual(auth.slice(colon + 1), hmacHex(secret, toSign));
  return keyOk && sigOk;
}

export interface SignedRequest {
  method: string;
  /** The path as the SDK signed it: `/apps/<id>/…`. */
  path: string;
  params: URLSearchParams;
  body: Buffer;
}

/**
 * Why an HTTP API request's signature is refused, or undefined when it is good (§10.1): every query parameter but
 * `auth_signature`, decoded, keys in lower case, sorted, joined unescaped; `body_md5` recomputed from the body
 * received; `auth_timestamp` within `windowSeconds` of `nowMs` (0: not checked).
 */
export function checkRequest(req: SignedRequest, key: string, secret: string, windowSeconds: number, nowMs: number): string | undefined {
  const p = req.params;
  const signature = p.get('auth_signature');
  if (signature === null || p.get('auth_key') === null || p.get('auth_timestamp') === null) return 'missing authentication parameters';
  if (!safeEqual(p.get('auth_key')!, key)) return 'unknown auth_key';
  if (p.get('auth_version') !== '1.0') return 'auth_version must be 1.0';
  const ts = Number(p.get('auth_timestamp'));
  if (!Number.isFinite(ts)) return 'auth_timestamp must be a number';
  if (windowSeconds > 0 && Math.abs(nowMs / 1000 - ts) > windowSeconds) return `auth_timestamp is more than ${windowSeconds} s from the server's time`;
  const md5 = p.get('body_md5');
  if (req.body.length > 0 || md5 !== null) {
    const actual = createHash('md5').update(req.body).digest('hex');
    if (md5 === null || !safeEqual(md5, actual)) return 'body_md5 does not match the body';
  }
  const pairs: [string, string][] = [];
  for (const [k, v] of p) if (k !== 'auth_signature') pairs.push([k.toLowerCase(), v]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const query = pairs.map(([k, v]) => `${k}=${v}`).join('&');
  const expected = hmacHex(secret, `${req.method.toUpperCase()}\n${req.path}\n${query}`);
  return safeEqual(signature, expected) ? undefined : 'Authentication signature invalid.';
}
