import { timingSafeEqual } from 'node:crypto';

/**
 * Compares API keys in constant time. Every publish request pays this, so the key's bytes are compared directly
 * (a SHA-256 of each candidate cost about 3 µs a request): a candidate of another length is compared with the key
 * itself and refused, so what takes time depends only on the candidate's length, which its sender knows.
 */
export class ApiKeyCheck {
  private readonly key: Buffer;

  constructor(key: string) {
    this.key = Buffer.from(key, 'utf8');
  }

  matches(candidate: string | undefined): boolean {
    if (candidate === undefined || candidate.length === 0) return false;
    const c = Buffer.from(candidate, 'utf8');
    if (c.length !== this.key.length) return !timingSafeEqual(this.key, this.key);
    return timingSafeEqual(this.key, c);
  }

  /** Accepts `Authorization: Bearer <key>`. */
  matchesHeader(header: string | undefined): boolean {
    if (header === undefined) return false;
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    return m !== null && this.matches(m[1]);
  }
}
