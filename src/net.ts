import type { Server } from 'node:net';

/** Listens and resolves once bound, or rejects with the bind error (EADDRINUSE, EACCES) instead of emitting it. */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
