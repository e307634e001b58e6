/**
 * The CORS / Origin allowlist of the client ports. Entries are exact origins (`https://shop.example`), patterns
 * where `*` matches any run of characters (`https://*.shop.example`), or `*` alone for any origin.
 */
export class OriginPolicy {
  readonly any: boolean;
  private readonly exact = new Set<string>();
  private readonly globs: RegExp[] = [];

  constructor(origins: readonly string[]) {
    this.any = origins.includes('*');
    for (const o of origins) {
      if (o === '*') continue;
      if (!o.includes('*')) this.exact.add(o.toLowerCase());
      else
        this.globs.push(
          new RegExp(
            `^${o
              .toLowerCase()
              .split('*')
              .map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
              .join('[^/]*')}$`,
          ),
        );
    }
  }

  /** True for an origin on the list. */
  allows(origin: string): boolean {
    if (this.any) return true;
    const o = origin.toLowerCase();
    return this.exact.has(o) || this.globs.some((g) => g.test(o));
  }

  /**
   * Whether a request may proceed: requests without an Origin header come from non-browser clients (backends,
   * native apps), which no origin policy can restrict, so they pass.
   */
  admits(origin: string | undefined): boolean {
    return origin === undefined || this.allows(origin);
  }
}
