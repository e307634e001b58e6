import { ReplyQueue } from '../api/line/replies.ts';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { ApiKeyCheck } from '../auth/api-key.ts';
import { countError, type Context } from '../context.ts';
import type { StreamTarget } from '../domain/streams.ts';
import { isValidUser } from '../domain/streams.ts';
import { LineSplitter } from '../api/line/parser.ts';
import { boundAddress, closeServer, listenOn, type CompatListener, type TlsFiles } from '../net/servers.ts';

/** What one Text-protocol line asks for; `reply` is the word answered (without the newline). */
export type TextPush = { ok: true; to: StreamTarget; user?: string; data: string } | { ok: false; reply: 'fail' | 'unauthorized'; why: string };

/**
 * Reads one line of the Workerman Text push protocol (pure, unit-tested):
 * - `{"uid":"u1",...}` pushes the whole line, verbatim, to every connection of u1;
 * - `{"broadcast":true,...}` (and no uid) pushes it to every connection (Herald's documented broadcast form);
 * - anything else (not JSON, not an object, no usable uid) is `fail`, as in the original.
 * With a secret configured the line must carry `"secret":"..."`; that field is removed before forwarding (the
 * line is then re-serialized, so the forwarded text is the same JSON value, not the same bytes).
 */
export function parseTextPush(line: string, secret: ApiKeyCheck | undefined): TextPush {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, reply: 'fail', why: 'line is not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reply: 'fail', why: 'line is not a JSON object' };
  const obj = raw as Record<string, unknown>;
  let data = line;
  if (secret !== undefined) {
    const given = obj.secret;
    if (typeof given !== 'string' || !secret.matches(given)) return { ok: false, reply: 'unauthorized', why: 'missing or wrong secret' };
    const { secret: _omit, ...rest } = obj;
    data = JSON.stringify(rest);
  }
  const uid = obj.uid;
  if (uid === undefined || uid === null) {
    if (obj.broadcast === true) return { ok: true, to: { all: true }, data };
    return { ok: false, reply: 'fail', why: 'no uid field' };
  }
  // PHP array keys: an integer uid and its decimal string are the same key.
  const user = typeof uid === 'string' ? uid : typeof uid === 'number' && Number.isSafeInteger(uid) ? String(uid) : undefined;
  if (user === undefined || !isValidUser(user)) return { ok: false, reply: 'fail', why: 'uid must be a non-empty string or an integer' };
  return { ok: true, to: { user }, user, data };
}

/**
 * Port 5678: Workerman's Text protocol push port. Each `\n`-terminated line (CRLF tolerated) is one push, answered
 * `ok\n` when the uid had a connection and `fail\n` otherwise, in line order (pipelining works). A line past
 * compat.maxLineBytes gets `fail\n` and closes that connection only.
 */
export function createTextPort(ctx: Context, secret: ApiKeyCheck | undefined, tls: TlsFiles | undefined): CompatListener {
  const cfg = ctx.config.compat;
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(socket);
  };
  const server: Server =
    tls === undefined
      ? createNetServer(onConnection)
      : createTlsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: cfg.handshakeTimeoutMs }, onConnection);
  // Failed accepts are the connection limit's to report, rate-limited (src/net-limits.ts).
  server.on('error', (err: NodeJS.ErrnoException) => err.syscall === 'accept' || ctx.log.error({ err }, 'compat text port error'));

  const push = async (line: string): Promise<string> => {
    const p = parseTextPush(line, secret);
    if (!p.ok) {
      countError(ctx, p.reply === 'fail' ? 'bad_request' : 'unauthorized');
      ctx.log.debug({ why: p.why }, `compat text port: ${p.reply}`);
      return `${p.reply}\n`;
    }
    // The original answers from its uid map at the time of the push; the message is stored either way (inbox).
    // Started first so pipelined lines publish in line order; presence is cluster-wide with Redis.
    const publishing = ctx.dispatcher.publish({ to: p.to, data: p.data });
    const online = p.user === undefined || (await ctx.presence.userConnections(p.user)) > 0;
    await publishing;
    return online ? 'ok\n' : 'fail\n';
  };

  function serve(socket: Socket): void {
    socket.setNoDelay(true);
    const splitter = new LineSplitter(cfg.maxLineBytes);
    const replies = new ReplyQueue(socket);
    socket.on('data', (chunk: Buffer) => {
      const { lines, overflow } = splitter.push(chunk);
      for (const line of lines) {
        replies.add(
          push(line).catch((err: unknown) => {
            ctx.log.error({ err }, 'compat text push failed');
            return 'fail\n';
          }),
        );
      }
      if (overflow) {
        countError(ctx, 'frame_too_large');
        ctx.log.warn({ remote: socket.remoteAddress, limit: cfg.maxLineBytes }, 'compat text port: line too long, closing that connection');
        // Drop the rest of what this peer sends, answer the lines before it, then `fail` and close.
        socket.removeAllListeners('data');
        socket.resume();
        replies.after(() => {
          socket.end('fail\n');
          setTimeout(() => socket.destroy(), 2000).unref();
        });
      }
    });
    socket.on('error', (err) => ctx.log.debug({ err: err.message }, 'compat text client error'));
  }

  return {
    listen: () => listenOn(server, cfg.text.port, cfg.text.host),
    address: () => boundAddress(server, cfg.text.host, cfg.text.port),
    async close() {
      const closed = closeServer(server);
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
