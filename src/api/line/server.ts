import { createServer, type Server, type Socket } from 'node:net';
import type { ApiKeyCheck } from '../../auth/api-key.ts';
import { countError, type Context } from '../../context.ts';
import { ErrorCode } from '../../protocol/codes.ts';
import { failureOf } from '../errors.ts';
import { operationNamed, type Operations } from '../operations.ts';
import { isLoopback } from '../http/handler.ts';
import { errLine, LineSplitter, okLine, parseCommand, type LineCommand } from './parser.ts';
import { ReplyQueue } from './replies.ts';

/**
 * The line port: one JSON command per line, one reply line per command, in order, pipelining allowed.
 * Same operations as the HTTP API (docs/api.md), plus `auth` to authenticate the connection once.
 */
export function createLineServer(ctx: Context, ops: Operations, apiKey: ApiKeyCheck): Server {
  const server = createServer((socket) => serve(socket));
  // Failed accepts are the connection limit's to report, rate-limited (src/net-limits.ts).
  server.on('error', (err: NodeJS.ErrnoException) => err.syscall === 'accept' || ctx.log.error({ err }, 'line port error'));

  function serve(socket: Socket): void {
    socket.setNoDelay(true);
    const splitter = new LineSplitter(ctx.config.limits.maxLineBytes);
    let authed = ctx.config.line.allowLoopbackWithoutKey && isLoopback(socket.remoteAddress);
    const replies = new ReplyQueue(socket);

    const run = async (line: string, parsed?: LineCommand): Promise<string> => {
      if (line.trim() === '') return '';
      const cmd = parsed ?? parseCommand(line);
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
      const op = operationNamed(ops, cmd.op);
      if (op === undefined) {
        countError(ctx, ErrorCode.BadRequest);
        return errLine(ErrorCode.BadRequest, `unknown op ${JSON.stringify(cmd.op)}; see docs/api.md`);
      }
      try {
        return okLine(await op(cmd.input));
      } catch (err) {
        return failure(err);
      }
    };

    const failure = (err: unknown): string => {
      const e = failureOf(ctx, err, 'line command failed');
      return errLine(e.code, e.message);
    };

    const unauthorized = (): string => {
      countError(ctx, ErrorCode.Unauthorized);
      return errLine(ErrorCode.Unauthorized, 'send {"op":"auth","key":"<api key>"} first, or a key field on the command');
    };

    /**
     * Consecutive publish lines of one read go to the store as one batch (publishBatch: one append, deliveries in
     * order, each message failing on its own), answered with one reply line each: a pipelining backend sends
     * hundreds per packet, and one operation per line would cost a promise chain per message.
     */
    let group: Record<string, unknown>[] = [];
    const publishGroup = (): void => {
      if (group.length === 0) return;
      const messages = group;
      group = [];
      replies.add(
        Promise.resolve(ops.publishBatch({ messages })).then(
          (out) => (out as { results: unknown[] }).results.map(replyLine).join(''),
          (err: unknown) => failure(err).repeat(messages.length),
        ),
      );
    };
    const replyLine = (r: unknown): string => {
      const e = (r as { error?: { code: string; message: string } }).error;
      if (e === undefined) return okLine(r);
      countError(ctx, e.code);
      return errLine(e.code, e.message);
    };

    let overflowed = false;
    socket.on('data', (chunk: Buffer) => {
      // After an oversize line the rest of the stream cannot be framed again: drop it and close.
      if (overflowed) return;
      const { lines, overflow } = splitter.push(chunk);
      for (const line of lines) {
        const cmd = line.trim() === '' ? undefined : parseCommand(line);
        if (cmd?.ok === true && cmd.op === 'publish' && (cmd.key === undefined ? authed : apiKey.matches(cmd.key))) {
          if (cmd.key !== undefined) authed = true;
          group.push(cmd.input);
          if (group.length >= ctx.config.limits.maxBatch) publishGroup();
          continue;
        }
        publishGroup();
        replies.add(run(line, cmd));
      }
      publishGroup();
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
