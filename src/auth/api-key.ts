import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares API keys in constant time; hashing first makes the lengths equal so length does not leak either. */
export class ApiKeyCheck {
  private readonly digest: Buffer;

  constructor(key: string) {
    this.digest = createHash('sha256').update(key).digest();
  }

  matches(candidate: string | undefined): boolean {
    if (candidate === undefined || candidate.length === 0) return false;
    return timingSafeEqual(this.digest, createHash('sha256').update(candidate).digest());
  }

  /** Accepts `Authorization: Bearer <key>`. */
  matchesHeader(header: string | undefined): boolean {
    if (header === undefined) return false;
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    return m !== null && this.matches(m[1]);
  }
}
