import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '../../protocol/codes.ts';
import { ApiError } from '../errors.ts';

/** Reads a JSON request body of at most `limit` bytes. An empty body is `{}`. */
export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      const text = chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks, size).toString();
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new ApiError(400, ErrorCode.BadJson, 'request body is not valid JSON'));
      }
    });
  });
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, ErrorCode.BodyTooLarge, `request body exceeds ${limit} bytes`);
}
