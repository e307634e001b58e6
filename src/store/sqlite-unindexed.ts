import type { StoredMessage } from './store.ts';

/** Index of the first entry with an offset above `bound` (entries are in offset order). */
function after(list: readonly StoredMessage[], bound: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.offset <= bound) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What an entry costs besides its strings: the object, its slot in the stream's array, the map's share. */
const ENTRY_BYTES = 96;

/**
 * The SQLite store's committed entries that are in its append-only `log` table and not yet in the indexed
 * `messages` table, per stream, in offset order: reads serve them from here. Two generations: `recent` takes new
 * commits; a move pass (sqlite.ts) takes all of `recent` as `moving` and copies it into `messages` stream by
 * stream, oldest first, dropping what each transaction copied once it committed. Every entry of a stream here is
 * newer than any of that stream's in `messages`, and those in `moving` older than those in `recent`.
 */
export class Unindexed {
  private recent = new Map<string, StoredMessage[]>();
  private moving: Map<string, StoredMessage[]> | undefined;
  /** Entries in `recent` (what the next move pass will take), and about the memory they hold. */
  rows = 0;
  bytes = 0;

  add(stream: string, m: StoredMessage): void {
    const list = this.recent.get(stream);
    if (list === undefined) this.recent.set(stream, [m]);
    else list.push(m);
    this.rows++;
    // UTF-16 code units of the data and event (V8 keeps ASCII in one byte each, so this errs high), plus the entry.
    this.bytes += m.data.length + (m.event?.length ?? 0) + ENTRY_BYTES;
  }

  /** Starts a move pass with everything recent; returns its streams in the order to copy them (sorted: locality). */
  beginMove(): string[] {
    this.moving = this.recent;
    this.recent = new Map();
    this.rows = 0;
    this.bytes = 0;
    return [...this.moving.keys()].sort();
  }

  movingOf(stream: string): readonly StoredMessage[] {
    return this.moving?.get(stream) ?? [];
  }

  /** The first `count` of the stream's moving entries are committed to `messages`: reads find them there from now on. */
  moved(stream: string, count: number): void {
    const list = this.moving?.get(stream);
    if (list === undefined) return;
    if (count >= list.length) this.moving!.delete(stream);
    else list.splice(0, count);
  }

  endMove(): void {
    this.moving = undefined;
  }

  /** Appends to `out` (up to `limit` in all) the entries past `from`, `minSeq` and `minTime`, in offset order. */
  read(stream: string, from: number, minSeq: number, minTime: number, limit: number, out: StoredMessage[]): void {
    const bound = Math.max(from, minSeq);
    collect(this.moving?.get(stream), bound, minTime, limit, out);
    collect(this.recent.get(stream), bound, minTime, limit, out);
  }

  /** The first offset past `minSeq` whose entry is not older than `minTime`. */
  first(stream: string, minSeq: number, minTime: number): number | undefined {
    return firstOf(this.moving?.get(stream), minSeq, minTime) ?? firstOf(this.recent.get(stream), minSeq, minTime);
  }

  /** The highest offset held here for the stream. */
  last(stream: string): number | undefined {
    const list = this.recent.get(stream) ?? this.moving?.get(stream);
    return list?.[list.length - 1]?.offset;
  }
}

function collect(list: readonly StoredMessage[] | undefined, bound: number, minTime: number, limit: number, out: StoredMessage[]): void {
  if (list === undefined) return;
  for (let i = after(list, bound); i < list.length && out.length < limit; i++) if (list[i]!.time >= minTime) out.push(list[i]!);
}

function firstOf(list: readonly StoredMessage[] | undefined, minSeq: number, minTime: number): number | undefined {
  if (list === undefined) return undefined;
  for (let i = after(list, minSeq); i < list.length; i++) if (list[i]!.time >= minTime) return list[i]!.offset;
  return undefined;
}
