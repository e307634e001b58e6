// Small helpers of the SDK with no state.
import { CloseCode, ErrorCode } from '../src/protocol/codes.ts';
import type { PositionStorage } from './positions.ts';
import { ClientErrorCode, type HeraldErrorCode } from './types.ts';

export function defaultStorage(): PositionStorage | undefined {
  try {
    return (globalThis as { localStorage?: PositionStorage }).localStorage;
  } catch {
    // Accessing localStorage throws in some sandboxed frames.
    return undefined;
  }
}

export function numberOrUndefined(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function closeErrorCode(code: number): HeraldErrorCode {
  switch (code) {
    case CloseCode.InvalidToken:
      return ErrorCode.InvalidToken;
    case CloseCode.TokenExpired:
      return ErrorCode.TokenExpired;
    case CloseCode.Kicked:
      return ClientErrorCode.Kicked;
    default:
      return ClientErrorCode.ConnectionClosed;
  }
}
