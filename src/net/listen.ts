import type { Server } from 'node:net';
import { connectionLimits } from './limits.ts';

/**
 * Listens and resolves once bound, or rejects with the bind error (EADDRINUSE, EACCES) instead of emitting it.
 * Every listener goes through here, so this is also where it is put under the process's connection limit.
 */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      connectionLimits.enrol(server);
      resolve();
    });
  });
}
