import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '../../protocol/codes.ts';
import { ApiError } from '../errors.ts';

/** Reads a whole request body, or resolves undefined as soon as it passes `limit` bytes (the rest is dropped). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!over) reject(err);
    });
  });
}

/** Reads a JSON request body of at most `limit` bytes. An empty body is `{}`. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  if (body === undefined) throw new ApiError(413, ErrorCode.BodyTooLarge, `request body exceeds ${limit} bytes`);
  return parseJson(body.toString());
}

/** Parses a request body's text; an empty body is `{}`. */
export function parseJson(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, ErrorCode.BadJson, 'request body is not valid JSON');
  }
}

/** An API operation's input from a POST body: it must be a JSON object. */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, ErrorCode.BadRequest, 'request body must be a JSON object');
  return body as Record<string, unknown>;
}
