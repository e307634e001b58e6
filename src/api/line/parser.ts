/**
 * Splits a byte stream into `\n`-terminated lines (a trailing `\r` is dropped, so CRLF peers work). Pure: no I/O,
 * so it is unit-tested alone and reused by every line-based listener (native JSON commands, Workerman Text).
 */
export class LineSplitter {
  private partial: Buffer[] = [];
  private partialBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  /**
   * Feeds one chunk. Returns the complete lines it finished, and `overflow` when a line grew past the limit
   * (the caller should answer and close; the splitter is then unusable).
   */
  push(chunk: Buffer): { lines: string[]; overflow: boolean } {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      const cr = piece.length > 0 ? piece[piece.length - 1] === 0x0d : this.endsWithCr();
      // The limit is on content: a CRLF terminator does not count against it.
      if (this.partialBytes + piece.length - (cr ? 1 : 0) > this.maxLineBytes) return { lines, overflow: true };
      const line = this.partial.length === 0 ? piece : Buffer.concat([...this.partial, piece]);
      this.partial = [];
      this.partialBytes = 0;
      const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
      lines.push(line.toString('utf8', 0, end));
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      // A trailing CR may be the first half of a CRLF whose LF comes in the next chunk: it is not content.
      const cr = rest[rest.length - 1] === 0x0d ? 1 : 0;
      if (this.partialBytes + rest.length - cr > this.maxLineBytes) return { lines, overflow: true };
      // Copy: the caller's chunk buffer may be reused by the socket.
      this.partial.push(Buffer.from(rest));
      this.partialBytes += rest.length;
    }
    return { lines, overflow: false };
  }

  private endsWithCr(): boolean {
    const last = this.partial[this.partial.length - 1];
    return last !== undefined && last.length > 0 && last[last.length - 1] === 0x0d;
  }
}

export type LineCommand = { ok: true; op: string; key?: string; input: Record<string, unknown> } | { ok: false; code: string; message: string };

/** Parses one native line-port command: a JSON object with an `op` field, and an optional `key`. */
export function parseCommand(line: string): LineCommand {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, code: 'bad_json', message: 'line is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, code: 'bad_request', message: 'line must be a JSON object' };
  const { op, key, ...input } = raw as Record<string, unknown>;
  if (typeof op !== 'string') return { ok: false, code: 'bad_request', message: 'op must be a string' };
  if (key !== undefined && typeof key !== 'string') return { ok: false, code: 'bad_request', message: 'key must be a string' };
  return key === undefined ? { ok: true, op, input } : { ok: true, op, key, input };
}

/** Reply lines: `OK <json>` or `ERR <code> <message>`, each ending in `\n`. */
export function okLine(result: unknown): string {
  return `OK ${JSON.stringify(result ?? null)}\n`;
}

export function errLine(code: string, message: string): string {
  return `ERR ${code} ${message.replace(/[\r\n]+/g, ' ')}\n`;
}
