import { createServer, type Server, type Socket } from 'node:net';
import type { ApiKeyCheck } from '../../auth/api-key.ts';
import { countError, type Context } from '../../core/context.ts';
import { ErrorCode } from '../../protocol/codes.ts';
import { ApiError } from '../errors.ts';
import type { Operation } from '../operations.ts';
import { isLoopback } from '../http/handler.ts';
import { errLine, LineSplitter, okLine, parseCommand } from './parser.ts';
import { ReplyQueue } from './replies.ts';

/**
 * The line port: one JSON command per line, one reply line per command, in order, pipelining allowed.
 * Same operations as the HTTP API (docs/api.md), plus `auth` to authenticate the connection once.
 */
export function createLineServer(ctx: Context, ops: Record<string, Operation>, apiKey: ApiKeyCheck): Server {
  const server = createServer((socket) => serve(socket));
  // Failed accepts are the connection limit's to report, rate-limited (src/net-limits.ts).
  server.on('error', (err: NodeJS.ErrnoException) => err.syscall === 'accept' || ctx.log.error({ err }, 'line port error'));

  function serve(socket: Socket): void {
    socket.setNoDelay(true);
    const splitter = new LineSplitter(ctx.config.limits.maxLineBytes);
    let authed = ctx.config.line.allowLoopbackWithoutKey && isLoopback(socket.remoteAddress);
    const replies = new ReplyQueue(socket);

    const run = async (line: string): Promise<string> => {
      if (line.trim() === '') return '';
      const cmd = parseCommand(line);
      if (!cmd.ok) {
        countError(ctx, cmd.code);
        return errLine(cmd.code, cmd.message);
      }
      if (cmd.key !== undefined) {
        if (!apiKey.matches(cmd.key)) return unauthorized();
        authed = true;
      }
      if (cmd.op === 'auth') return cmd.key === undefined ? errLine(ErrorCode.BadRequest, 'auth needs a key') : okLine({ authenticated: true });
      if (!authed) return unauthorized();
      const op = Object.hasOwn(ops, cmd.op) ? ops[cmd.op] : undefined;
      if (op === undefined) {
        countError(ctx, ErrorCode.BadRequest);
        return errLine(ErrorCode.BadRequest, `unknown op ${JSON.stringify(cmd.op)}; see docs/api.md`);
      }
      try {
        return okLine(await op(cmd.input));
      } catch (err) {
        if (err instanceof ApiError) {
          countError(ctx, err.code);
          return errLine(err.code, err.message);
        }
        ctx.log.error({ err }, 'line command failed');
        countError(ctx, ErrorCode.Internal);
        return errLine(ErrorCode.Internal, 'internal error');
      }
    };

    const unauthorized = (): string => {
      countError(ctx, ErrorCode.Unauthorized);
      return errLine(ErrorCode.Unauthorized, 'send {"op":"auth","key":"<api key>"} first, or a key field on the command');
    };

    let overflowed = false;
    socket.on('data', (chunk: Buffer) => {
      // After an oversize line the rest of the stream cannot be framed again: drop it and close.
      if (overflowed) return;
      const { lines, overflow } = splitter.push(chunk);
      for (const line of lines) {
        replies.add(run(line));
      }
      if (overflow) {
        overflowed = true;
        countError(ctx, ErrorCode.FrameTooLarge);
        replies.after(() => {
          socket.end(errLine(ErrorCode.FrameTooLarge, `line exceeds ${ctx.config.limits.maxLineBytes} bytes; closing`));
          // A peer still pushing its huge line never reads our FIN; do not keep its buffers around.
          setTimeout(() => socket.destroy(), 1000).unref();
        });
      }
    });
    socket.on('error', (err) => ctx.log.debug({ err: err.message }, 'line client error'));
  }

  return server;
}
