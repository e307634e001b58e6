import type { Server } from 'node:net';
import { connectionLimits } from './limits.ts';

/**
 * Connections the kernel may hold for the event loop to accept. Node's default, 511, overflows when thousands of
 * clients reconnect at once (a restart): each SYN dropped then waits for the client kernel's retransmit, 1 s, then
 * 3, 7, 15 s. The kernel caps it at `net.core.somaxconn` (4096 on current Linux).
 */
const LISTEN_BACKLOG = 4096;

/**
 * Listens and resolves once bound, or rejects with the bind error (EADDRINUSE, EACCES) instead of emitting it.
 * Every listener goes through here, so this is also where it is put under the process's connection limit.
 */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      connectionLimits.enrol(server);
      resolve();
    });
  });
}
