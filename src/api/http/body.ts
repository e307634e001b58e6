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
  const text = body.toString();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, ErrorCode.BadJson, 'request body is not valid JSON');
  }
}
