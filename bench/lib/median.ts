// Medians of repeated runs: every timed measurement runs RUNS times on the same connections; the reported figure
// of each numeric field is its median over the runs, and the raw runs are kept next to it for the JSON report.

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export type Repeated<T> = T & { runs: T[] };

/** Field-wise median of `runs` (numbers); other fields are taken from the first run. */
export function medianOf<T extends object>(runs: T[]): Repeated<T> {
  if (runs.length === 0) throw new Error('medianOf: no runs');
  const out = { ...runs[0]! } as Record<string, unknown>;
  for (const key of Object.keys(out)) {
    const values = runs.map((r) => (r as Record<string, unknown>)[key]);
    if (values.every((v) => typeof v === 'number')) out[key] = median(values as number[]);
  }
  out.runs = runs;
  return out as Repeated<T>;
}

/** Runs `once` `times` times in sequence (never in parallel: they share the server and the clients). */
export async function repeat<T extends object>(times: number, once: (run: number) => Promise<T>): Promise<Repeated<T>> {
  const runs: T[] = [];
  for (let i = 0; i < times; i++) runs.push(await once(i));
  return medianOf(runs);
}
