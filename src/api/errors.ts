import type { ZodError } from 'zod';
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
