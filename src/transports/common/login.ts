import type { TokenService } from '../../auth/tokens.ts';
import { isValidUser } from '../../domain/streams.ts';

export type LoginResult = { ok: true; user: string; viaToken: boolean } | { ok: false; code: LoginErrorCode; message: string };
export type LoginErrorCode = 'bad_login' | 'invalid_uid' | 'token_required' | 'invalid_token' | 'token_expired';

/** A compact JWS (three base64url parts, JSON header): tells a signed token from a raw uid. */
const JWT_RE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function looksLikeToken(s: string): boolean {
  return JWT_RE.test(s);
}

/**
 * Turns what a compat client logged in with (Socket.IO `login` argument, or the websocket's first frame) into a
 * user id. Accepted: a uid string, an integer (as the original's `(string)$uid`), a token string, or
 * `{token: "..."}`. Tokens are the native ones (HS256, `sub` = uid). With `requireToken`, a raw uid is refused.
 * Never throws: every other shape (no argument, other objects, binary) is a `bad_login` answer.
 */
export async function resolveLogin(tokens: TokenService, arg: unknown, requireToken: boolean): Promise<LoginResult> {
  let token: string | undefined;
  let uid: string | undefined;
  if (typeof arg === 'string') {
    if (looksLikeToken(arg)) token = arg;
    else uid = arg;
  } else if (typeof arg === 'number' && Number.isSafeInteger(arg)) {
    uid = String(arg);
  } else if (typeof arg === 'object' && arg !== null && !Array.isArray(arg) && !ArrayBuffer.isView(arg) && !(arg instanceof ArrayBuffer)) {
    const t = (arg as Record<string, unknown>).token;
    if (typeof t === 'string') token = t;
  }
  if (token !== undefined) {
    const res = await tokens.verify(token);
    if (res.ok) return { ok: true, user: res.identity.user, viaToken: true };
    return res.expired ? { ok: false, code: 'token_expired', message: 'token expired' } : { ok: false, code: 'invalid_token', message: 'invalid token' };
  }
  if (uid === undefined) {
    return { ok: false, code: 'bad_login', message: 'login needs one argument: the uid (a string) or {"token": "<signed token>"}' };
  }
  if (requireToken) return { ok: false, code: 'token_required', message: 'this server requires a signed token to log in, not a raw uid' };
  if (!isValidUser(uid)) return { ok: false, code: 'invalid_uid', message: 'uid must be 1-256 characters without control characters' };
  return { ok: true, user: uid, viaToken: false };
}
