import type { Server, Socket } from 'node:net';

export type ConnectionHandler = (socket: Socket) => void;

/**
 * Puts `front` before the connection listeners the server has now (Node's HTTP parser, or another front), which
 * from then on receive only the sockets `front` passes on through `pass`.
 */
export function frontConnections(server: Server, front: (socket: Socket, pass: ConnectionHandler) => void): void {
  const listeners = server.listeners('connection') as ConnectionHandler[];
  server.removeAllListeners('connection');
  const pass: ConnectionHandler = (socket) => {
    for (const l of listeners) l.call(server, socket);
  };
  server.on('connection', (socket: Socket) => front(socket, pass));
}
