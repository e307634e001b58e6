// The Register's text protocol (reference §2): one JSON object per LF-terminated line, trailing CR/LF characters
// dropped. Parsing says what the Register does with each line (which message, or: error line and close, or close
// without a reply); building writes the lines byte for byte as the originals do.

/** workerman's package limit: a longer line closes the connection. */
export const DEFAULT_MAX_LINE = 10_485_760;

export type RegisterMessage =
  | { event: 'gateway_connect'; address: string; secretKey: string }
  | { event: 'worker_connect'; secretKey: string }
  | { event: 'ping' }
  | { event: 'broadcast_addresses'; addresses: string[] };

export type RegisterRefusal =
  /** Not JSON, not an object, or no/empty `event`: the Register sends REGISTER_ERROR_LINE, then closes. */
  | 'bad_request'
  /** An event it does not know: closes without a reply. */
  | 'unknown_event'
  /** gateway_connect with an empty or missing address: closes without a reply. */
  | 'no_address'
  /** A secret_key that is not a string: no string secret can equal it, so: closes without a reply. */
  | 'bad_secret'
  /** broadcast_addresses whose addresses are not a list (or gap-keyed object) of strings: a worker ignores it. */
  | 'bad_addresses';

export type RegisterParse = { ok: true; message: RegisterMessage } | { ok: false; refusal: RegisterRefusal; event?: string };

/** The Register's answer to a bad request, before it closes. The original's wording is only partly documented. */
export const REGISTER_ERROR_LINE = 'Bad request for Register service.\n';
export const PING_LINE = '{"event":"ping"}\n';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One line (without its LF) as the Register, or for broadcast_addresses a worker, understands it. */
export function parseRegisterLine(line: Buffer | string): RegisterParse {
  let data: unknown;
  try {
    data = JSON.parse(typeof line === 'string' ? line : line.toString('utf8'));
  } catch {
    return { ok: false, refusal: 'bad_request' };
  }
  if (!isObject(data) || data.event === undefined || data.event === null || data.event === '') return { ok: false, refusal: 'bad_request' };
  const event = data.event;
  if (typeof event !== 'string') return { ok: false, refusal: 'unknown_event' };
  const secret = data.secret_key ?? '';
  switch (event) {
    case 'ping':
      return { ok: true, message: { event } };
    case 'worker_connect':
      if (typeof secret !== 'string') return { ok: false, refusal: 'bad_secret', event };
      return { ok: true, message: { event, secretKey: secret } };
    case 'gateway_connect': {
      const address = data.address;
      if (typeof address !== 'string' || address === '') return { ok: false, refusal: 'no_address', event };
      if (typeof secret !== 'string') return { ok: false, refusal: 'bad_secret', event };
      return { ok: true, message: { event, address, secretKey: secret } };
    }
    case 'broadcast_addresses': {
      // De-duplication with gaps makes PHP write an object ({"0":"a","2":"b"}); consumers read its values.
      const raw = data.addresses;
      const list = Array.isArray(raw) ? raw : isObject(raw) ? Object.values(raw) : undefined;
      if (!list || !list.every((a): a is string => typeof a === 'string')) return { ok: false, refusal: 'bad_addresses', event };
      return { ok: true, message: { event, addresses: list } };
    }
    default:
      return { ok: false, refusal: 'unknown_event', event };
  }
}

/** A string as PHP's json_encode writes it by default: `/` and every non-ASCII character escaped. */
export function phpJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x2f) out += '\\/';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c > 0x7e) out += c === 0x7f ? '\x7f' : `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

/**
 * The gateway's first line. The original interpolates the secret into the JSON, so a secret with `"` or `\` makes
 * invalid JSON there; here it is escaped, which only differs for those secrets.
 */
export function gatewayConnectLine(address: string, secretKey: string): string {
  return `{"event":"gateway_connect", "address":${JSON.stringify(address)}, "secret_key":${JSON.stringify(secretKey)}}\n`;
}

/** The first line of a BusinessWorker or a GatewayClient (same caveat on the secret). */
export function workerConnectLine(secretKey: string): string {
  return `{"event":"worker_connect","secret_key":${JSON.stringify(secretKey)}}\n`;
}

/** The Register's address list, as json_encode writes it (an empty list is `[]`). */
export function broadcastAddressesLine(addresses: readonly string[]): string {
  return `{"event":"broadcast_addresses","addresses":[${addresses.map(phpJsonString).join(',')}]}\n`;
}

export type LineResult = { lines: Buffer[]; error?: 'line_too_long' };

/** Splits a byte stream into lines at LF, dropping the trailing CR/LF characters of each; bounded per line. */
export class LineReader {
  private pending: Buffer[] = [];
  private pendingSize = 0;
  private failed = false;

  constructor(private readonly maxLine = DEFAULT_MAX_LINE) {}

  push(chunk: Buffer): LineResult {
    const lines: Buffer[] = [];
    if (this.failed) return { lines, error: 'line_too_long' };
    let start = 0;
    for (let lf = chunk.indexOf(0x0a); lf !== -1; lf = chunk.indexOf(0x0a, start)) {
      let line = chunk.subarray(start, lf);
      if (this.pendingSize > 0) {
        line = Buffer.concat([...this.pending, line]);
        this.pending = [];
        this.pendingSize = 0;
      }
      if (line.length > this.maxLine) return this.fail(lines);
      lines.push(trimEnd(line));
      start = lf + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingSize += chunk.length - start;
      if (this.pendingSize > this.maxLine) return this.fail(lines);
    }
    return { lines };
  }

  private fail(lines: Buffer[]): LineResult {
    this.failed = true;
    this.pending = [];
    this.pendingSize = 0;
    return { lines, error: 'line_too_long' };
  }
}

function trimEnd(line: Buffer): Buffer {
  let end = line.length;
  while (end > 0 && (line[end - 1] === 0x0d || line[end - 1] === 0x0a)) end--;
  return line.subarray(0, end);
}
