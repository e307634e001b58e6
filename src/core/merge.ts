/**
 * Merges `update` into `base` the way PHP's `array_replace_recursive` does, which is what GatewayWorker's
 * `updateSession` does: a key whose old and new values are both objects (or both arrays) merges recursively, any
 * other key is replaced or appended, and arrays merge index by index (`[1,2,3]` with `[9]` gives `[9,2,3]`).
 * Returns a new value; neither argument is changed.
 */
export function mergeReplace(base: Readonly<Record<string, unknown>>, update: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(update)) out[k] = mergeValue(out[k], v);
  return out;
}

function mergeValue(old: unknown, next: unknown): unknown {
  if (Array.isArray(old) && Array.isArray(next)) {
    const out: unknown[] = [...old];
    next.forEach((v, i) => (out[i] = mergeValue(out[i], v)));
    return out;
  }
  if (isObject(old) && isObject(next)) return mergeReplace(old, next);
  return next;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
