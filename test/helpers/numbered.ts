// Counting numbered messages per client, for the tests that publish numbered messages through faults (node kills,
// Redis restarts, Cluster failovers, Sentinel failovers) and check what each client received.

/** A message a client received: its stream, offset, and the number it was published with. */
export interface Got {
  stream: string;
  offset: number;
  seq: number;
}

/** Per stream, the number each acknowledged publish got at its offset (from the publish replies). */
export type Published = Map<string, Map<number, number>>;

export interface Tally {
  lost: number;
  duplicated: number;
  outOfOrder: number;
  checked: number;
}

/**
 * Per client: lost (an acknowledged offset never received, or received with another message, as when a failover
 * gave the offset again), duplicated (an offset received twice), out of order (an offset below one received
 * before on the same stream). With `debugEnv` set in the environment, each finding is printed.
 */
export function tally(got: readonly Got[], published: Published, streams: readonly string[], debugEnv?: string): Tally {
  const debug = debugEnv !== undefined && process.env[debugEnv] !== undefined;
  const t: Tally = { lost: 0, duplicated: 0, outOfOrder: 0, checked: 0 };
  for (const stream of streams) {
    const want = published.get(stream) ?? new Map<number, number>();
    const seen = new Set<number>();
    let last = 0;
    for (const g of got) {
      if (g.stream !== stream) continue;
      if (seen.has(g.offset)) {
        t.duplicated++;
        if (debug) console.log(`dup ${stream} ${g.offset}`);
      } else if (want.get(g.offset) !== g.seq) {
        t.lost++;
        if (debug) console.log(`wrong ${stream} ${g.offset}: got ${g.seq}, published ${want.get(g.offset)}`);
      }
      if (g.offset < last) {
        t.outOfOrder++;
        if (debug) console.log(`out of order ${stream} ${g.offset} after ${last}`);
      }
      seen.add(g.offset);
      last = Math.max(last, g.offset);
    }
    const missing = [...want.keys()].filter((o) => !seen.has(o));
    if (debug && missing.length > 0) console.log(`missing ${stream}: ${missing.sort((a, b) => a - b).join(',')}`);
    t.lost += missing.length;
    t.checked += want.size;
  }
  return t;
}
