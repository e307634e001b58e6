// socket.io-client 2.x (installed as the alias socket.io-client-v2) ships no types; this is the part tests use.
declare module 'socket.io-client-v2' {
  function io(url: string, opts?: Record<string, unknown>): unknown;
  export default io;
}
