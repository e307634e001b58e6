// What Herald's Node path does with a byte stream, computed in process: Node's own HTTP parser (llhttp, through
// the HTTPParser binding the http module uses, strict mode as Herald runs it) plus the checks Node's server makes
// after the parser (_http_server.js: requireHostHeader, Expect, upgrade, PRI, data after a closing request).
// The differential fuzz test holds the fast lane to this; test/integration/http-fast-lane-differential.test.ts
// holds this to a real Herald without the fast lane, over sockets.
import { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { FastReader } from '../../src/api/http/fast-reader.ts';

/** A request Node's server emitted with its whole body: Herald's handler runs it. */
export interface Executed {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

/**
 * How the connection stands once the bytes are read: waiting for more; closed after a `Connection: close` (or
 * HTTP/1.0) request, any later bytes unread; or rejected (a 4xx from the parser or the server's checks).
 */
export type End = 'wait' | 'closed' | 'rejected' | 'upgrade';

/** A WebSocket handshake Node's server emitted as 'upgrade': what the listener reads of it, and the bytes after it. */
export interface Upgraded {
  url: string;
  rawHeaders: string[];
  headers: Record<string, unknown>;
  rest: string;
}

export interface Outcome {
  executed: Executed[];
  end: End;
  upgrade?: Upgraded;
}

/** Node's `IncomingMessage.headers` for these raw headers, built by Node's own code. */
function nodeHeaders(raw: string[]): Record<string, unknown> {
  const m = new IncomingMessage(new Socket()) as IncomingMessage & { _addHeaderLines(h: string[], n: number): void };
  m._addHeaderLines(raw, raw.length);
  return { ...m.headers };
}

interface HttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  close(): void;
  [callback: number]: unknown;
}
interface HttpParserClass {
  new (): HttpParser;
  REQUEST: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}
const common = createRequire(import.meta.url)('_http_common') as { HTTPParser: HttpParserClass; methods: string[] };
const { HTTPParser, methods } = common;
// Node's server: IncomingMessage keeps the first 2000 header entries (1000 name-value pairs).
const MAX_HEADER_ENTRIES = 2000;
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/** Node's server reading `chunks` from one connection, each chunk one read. */
export function nodeReads(chunks: Buffer[]): Outcome {
  const executed: Executed[] = [];
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
  let headers: string[] = [];
  let url = '';
  let current: (Executed & { parts: Buffer[] }) | undefined;
  let stop: End | undefined;
  let keepAlive = true;
  let closing = false;
  let upgraded: Upgraded | undefined;
  parser[HTTPParser.kOnHeaders] = (h: string[], u: string) => {
    if (headers.length < MAX_HEADER_ENTRIES) headers.push(...h);
    url += u;
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    h: string[] | undefined,
    method: number,
    u: string | undefined,
    _status: unknown,
    _message: unknown,
    upgrade: boolean,
    keep: boolean,
  ): number => {
    const all = (h ?? headers).slice(0, MAX_HEADER_ENTRIES);
    headers = [];
    const target = u ?? url;
    url = '';
    current = undefined;
    keepAlive = keep;
    const first = (name: string): string | undefined => {
      for (let i = 0; i < all.length; i += 2) if (all[i]!.toLowerCase() === name) return all[i + 1];
      return undefined;
    };
    const name = methods[method]!;
    // An upgrade goes to Herald's upgrade handler with the bytes after its head; PRI is destroyed.
    if (upgrade && stop === undefined) {
      stop = 'upgrade';
      upgraded = { url: target, rawHeaders: all, headers: nodeHeaders(all), rest: '' };
      return 2;
    }
    if (upgrade || name === 'PRI') {
      stop ??= 'rejected';
      return upgrade ? 2 : 0;
    }
    if (major === 1 && minor === 1) {
      if (first('host') === undefined) {
        stop ??= 'rejected';
        return 0;
      }
      const expects = all.filter((_, i) => i % 2 === 1 && all[i - 1]!.toLowerCase() === 'expect');
      // Any Expect but 100-continue is answered 417 and not run; the connection stays.
      if (expects.length > 0 && !CONTINUE.test(expects.join(', '))) return 0;
    }
    current = { method: name, url: target, authorization: first('authorization'), body: '', parts: [] };
    return 0;
  };
  parser[HTTPParser.kOnBody] = (b: Buffer) => {
    current?.parts.push(Buffer.from(b));
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    if (!keepAlive) closing = true;
    if (current !== undefined && stop === undefined) {
      const { parts, ...request } = current;
      executed.push({ ...request, body: Buffer.concat(parts).toString('utf8') });
    }
    current = undefined;
  };
  try {
    for (let i = 0; i < chunks.length; i++) {
      if (stop !== undefined) break;
      const chunk = chunks[i]!;
      const r = parser.execute(chunk);
      if (upgraded !== undefined) {
        // llhttp stops at the end of an upgrade's head and says how far it read: the rest is the new protocol's.
        const read = typeof r === 'number' ? r : chunk.length;
        upgraded.rest = Buffer.concat([chunk.subarray(read), ...chunks.slice(i + 1)]).toString('latin1');
        break;
      }
      // After a closing request llhttp refuses further bytes: the connection is closed for them either way.
      if (r instanceof Error) stop ??= closing && (r as Error & { code?: string }).code === 'HPE_CLOSED_CONNECTION' ? 'closed' : 'rejected';
    }
  } finally {
    parser.close();
  }
  const out: Outcome = { executed, end: stop ?? (closing ? 'closed' : 'wait') };
  if (upgraded !== undefined) out.upgrade = upgraded;
  return out;
}

/** The fast lane reading `chunks`: its own requests, then Node's reading of what it hands over. */
export function laneReads(chunks: Buffer[], maxBody: number): Outcome & { byLane: number; handedOver: boolean } {
  const reader = new FastReader(maxBody);
  const executed: Executed[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const outcome = reader.push(chunks[i]!, (head, buf, start, end) => {
      executed.push({
        method: 'POST',
        url: head.op === 'publish' ? '/api/publish' : '/api/publish/batch',
        authorization: head.authorization,
        body: buf.toString('utf8', start, end),
      });
    });
    if (outcome === 'closed') return { executed, end: 'closed', byLane: executed.length, handedOver: false };
    if (outcome !== 'more' && 'upgrade' in outcome) {
      const { url, rawHeaders, headers } = outcome.upgrade;
      const rest = Buffer.concat([outcome.rest, ...chunks.slice(i + 1)]).toString('latin1');
      return { executed, end: 'upgrade', upgrade: { url, rawHeaders, headers: { ...headers }, rest }, byLane: executed.length + 1, handedOver: false };
    }
    if (outcome !== 'more') {
      const node = nodeReads([outcome.handOff, ...chunks.slice(i + 1)]);
      return { ...node, executed: [...executed, ...node.executed], byLane: executed.length, handedOver: true };
    }
  }
  return { executed, end: 'wait', byLane: executed.length, handedOver: false };
}
