import type { ZodError } from 'zod';
import { countError, type Context } from '../context.ts';
import { ErrorCode } from '../protocol/codes.ts';

/** An API failure with its HTTP status; the line port shows the same code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    /** For 405: the methods the resource accepts (the Allow header). */
    readonly allow?: string,
  ) {
    super(message);
  }

  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function fromZod(err: ZodError, code: ErrorCode = ErrorCode.BadRequest): ApiError {
  const first = err.issues[0];
  const where = first && first.path.length > 0 ? `${first.path.join('.')}: ` : '';
  return new ApiError(400, code, `${where}${first?.message ?? 'invalid request'}`);
}

export const unauthorized = (): ApiError => new ApiError(401, ErrorCode.Unauthorized, 'missing or wrong API key (Authorization: Bearer <key>)');

const INTERNAL = new ApiError(500, ErrorCode.Internal, 'internal error');

/**
 * The one mapping from a failure to what the caller is told, for every framing (HTTP, the fast lane, the line
 * port): an ApiError as it is; anything else is a bug, logged with `what`, and told only as `internal`. Counted
 * by code either way (`/api/stats` errors, `/metrics`).
 */
export function failureOf(ctx: Context, err: unknown, what: string): ApiError {
  if (err instanceof ApiError) {
    countError(ctx, err.code);
    return err;
  }
  ctx.log.error({ err }, what);
  countError(ctx, ErrorCode.Internal);
  return INTERNAL;
}

/** Headers an HTTP error response carries besides its JSON body. */
export function errorHeaders(err: ApiError): Record<string, string> {
  const headers: Record<string, string> = err.status === 401 ? { 'www-authenticate': 'Bearer' } : {};
  if (err.status === 413) headers.connection = 'close';
  if (err.allow !== undefined) headers.allow = err.allow;
  return headers;
}
