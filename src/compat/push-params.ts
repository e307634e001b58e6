/**
 * Request parameters the way Workerman 4's `$request->post()` / `$request->get()` see them (PHP `parse_str`
 * semantics), for the web-msg-sender push API. Pure: no I/O.
 *
 * A parameter is a string, or NOT_SCALAR when PHP would have made it an array (`to[]=a`, `content[x]=1`, a JSON
 * object or array value). The originals crash on those; the caller answers them with an error instead.
 */
export const NOT_SCALAR = Symbol('not scalar');
export type ParamValue = string | typeof NOT_SCALAR;
export type Params = Map<string, ParamValue>;

/** Stores one `name=value` pair as parse_str would: `name[...]` makes an array, the last assignment wins. */
function setParam(params: Params, rawKey: string, value: ParamValue): void {
  let key = rawKey.replace(/^ +/, '');
  let isArray = false;
  const open = key.indexOf('[');
  if (open === 0) return;
  if (open > 0) {
    if (key.indexOf(']', open) > open) {
      isArray = true;
      key = key.slice(0, open);
    } else {
      key = `${key.slice(0, open)}_${key.slice(open + 1)}`;
    }
  }
  if (key === '') return;
  // PHP turns spaces and dots in variable names into underscores.
  key = key.replace(/[ .]/g, '_');
  params.set(key, isArray ? NOT_SCALAR : value);
}

/** application/x-www-form-urlencoded (also PHP's fallback for any body that is neither JSON nor multipart). */
export function parseUrlEncoded(text: string): Params {
  const params: Params = new Map();
  for (const [k, v] of new URLSearchParams(text)) setParam(params, k, v);
  return params;
}

/** PHP's string conversion of a decoded JSON scalar; arrays and objects are NOT_SCALAR, null is absent. */
function jsonScalar(v: unknown): ParamValue | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '';
  return NOT_SCALAR;
}

/** `(array) json_decode($body, true)`: an object gives its fields, a scalar gives field `0`, bad JSON nothing. */
export function parseJsonBody(text: string): Params {
  const params: Params = new Map();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return params;
  }
  const entries: [string, unknown][] =
    typeof raw === 'object' && raw !== null ? Object.entries(raw as Record<string, unknown>) : raw === null ? [] : [['0', raw]];
  for (const [k, v] of entries) {
    const value = jsonScalar(v);
    if (value !== undefined) params.set(k, value);
  }
  return params;
}

/** multipart/form-data text fields (file parts are ignored, as they land in $_FILES, not in the parameters). */
export function parseMultipart(body: Buffer, boundary: string): Params {
  const params: Params = new Map();
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    let start = pos + delimiter.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing delimiter "--boundary--"
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    let end = next;
    if (body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2;
    const part = body.subarray(start, end);
    const split = part.indexOf('\r\n\r\n');
    if (split !== -1) {
      const headers = part.subarray(0, split).toString('utf8');
      const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? '';
      const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
      const isFile = /\bfilename="/i.test(disposition);
      if (name !== undefined && !isFile) setParam(params, name, part.subarray(split + 4).toString('utf8'));
    }
    pos = next;
  }
  return params;
}

/** Body parameters chosen by content type, as Workerman 4 does (multipart, `json`, else urlencoded). */
export function parseBody(contentType: string | undefined, body: Buffer): Params {
  const ct = contentType ?? '';
  const boundary = /boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(ct);
  if (boundary !== null && /^\s*multipart\//i.test(ct)) return parseMultipart(body, boundary[1] ?? boundary[2]!);
  if (body.length === 0) return new Map();
  const text = body.toString('utf8');
  if (/\bjson\b/i.test(ct)) return parseJsonBody(text);
  return parseUrlEncoded(text);
}

/** `$post = $request->post(); $post = $post ? $post : $request->get();`: body parameters win only when there are any. */
export function requestParams(query: string, contentType: string | undefined, body: Buffer): Params {
  const fromBody = parseBody(contentType, body);
  return fromBody.size > 0 ? fromBody : parseUrlEncoded(query);
}
