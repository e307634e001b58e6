// The outbox, on real TCP sockets over loopback: what is pushed within one event-loop turn leaves in one write, in
// order; while the socket is backed up frames wait here and leave in chunks on 'drain'; backpressure is counted in
// bytes (queued here plus not yet taken by the kernel), and what is still queued here on overflow is dropped;
// close() sends what was queued and nothing after.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Outbox, WRITE_CHUNK } from '../../src/core/outbox.ts';
import { flushThisTurn } from '../../src/core/turn.ts';

let server: Server;
/** Accepted sockets by the client's port, so that several pairs can be made at once. */
const arrived = new Map<number, Socket>();
const waiting = new Map<number, (s: Socket) => void>();

before(async () => {
  server = createServer((s) => {
    const port = s.remotePort!;
    const w = waiting.get(port);
    if (w === undefined) arrived.set(port, s);
    else {
      waiting.delete(port);
      w(s);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function acceptedFrom(port: number): Promise<Socket> {
  const s = arrived.get(port);
  if (s !== undefined) {
    arrived.delete(port);
    return Promise.resolve(s);
  }
  return new Promise((resolve) => waiting.set(port, resolve));
}

interface Pair {
  /** The side the outbox writes to, with every `write` call recorded. */
  out: Socket;
  /** What `out.write` was called with, one entry per call. */
  writes: Buffer[];
  /** The peer. */
  peer: Socket;
  /** Everything the peer has read so far. */
  received(): Buffer;
  /** Resolves once the peer has read `n` bytes. */
  until(n: number): Promise<Buffer>;
  /** Resolves with everything the peer read, once the writer ended the connection. */
  ended(): Promise<Buffer>;
  destroy(): void;
}

async function pair(): Promise<Pair> {
  const out = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(out, 'connect');
  const peer = await acceptedFrom(out.localPort!);
  const writes: Buffer[] = [];
  const write = out.write.bind(out) as (chunk: Buffer) => boolean;
  // Counting the calls is the point of the test: each is one syscall on the way out.
  out.write = ((chunk: Buffer) => {
    writes.push(chunk);
    return write(chunk);
  }) as typeof out.write;

  const chunks: Buffer[] = [];
  let size = 0;
  let wake = (): void => {};
  peer.on('data', (c: Buffer) => {
    chunks.push(c);
    size += c.length;
    wake();
  });
  const endedP = once(peer, 'end').then(() => Buffer.concat(chunks));
  return {
    out,
    writes,
    peer,
    received: () => Buffer.concat(chunks),
    until: (n) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`peer read ${size} of ${n} bytes`)), 5000);
        wake = () => {
          if (size >= n) {
            clearTimeout(timer);
            resolve(Buffer.concat(chunks));
          }
        };
        wake();
      }),
    ended: () => endedP,
    destroy() {
      out.destroy();
      peer.destroy();
    },
  };
}

/** An owner that counts how often it was told of an overflow. */
const owner = () => ({
  overflows: 0,
  overflow() {
    this.overflows++;
  },
});
const frame = (s: string) => Buffer.from(s);
/** Resolves after the current turn's setImmediate callbacks, which is when the outbox flushes. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Outbox coalescing', () => {
  it('writes everything pushed within one turn in one write, in order', async () => {
    const p = await pair();
    try {
      const box = new Outbox(p.out, 1 << 20, owner());
      for (const s of ['one,', 'two,', 'three,', 'four']) assert.equal(box.push(frame(s)), true);
      assert.equal(p.writes.length, 0, 'nothing is written before the turn ends');
      assert.equal((await p.until(18)).toString(), 'one,two,three,four');
      assert.equal(p.writes.length, 1);
    } finally {
      p.destroy();
    }
  });

  it('writes a lone frame as it is, and each turn separately', async () => {
    const p = await pair();
    try {
      const box = new Outbox(p.out, 1 << 20, owner());
      const first = frame('first');
      box.push(first);
      await p.until(5);
      assert.equal(p.writes[0], first, 'the frame itself, not a copy');
      box.push(frame('second'));
      box.push(frame('third'));
      assert.equal((await p.until(16)).toString(), 'firstsecondthird');
      assert.deepEqual(p.writes.map(String), ['first', 'secondthird']);
    } finally {
      p.destroy();
    }
  });

  it('gives each socket one write per turn when many outboxes are due together', async () => {
    const pairs = await Promise.all([pair(), pair(), pair()]);
    try {
      const boxes = pairs.map((p) => new Outbox(p.out, 1 << 20, owner()));
      for (let i = 0; i < 100; i++) for (const [k, box] of boxes.entries()) box.push(frame(`${k}:${i};`));
      const expected = (k: number) => Array.from({ length: 100 }, (_, i) => `${k}:${i};`).join('');
      for (const [k, p] of pairs.entries()) assert.equal((await p.until(expected(k).length)).toString(), expected(k));
      assert.deepEqual(
        pairs.map((p) => p.writes.length),
        [1, 1, 1],
      );
    } finally {
      for (const p of pairs) p.destroy();
    }
  });

  it('keeps the order across many turns', async () => {
    const p = await pair();
    try {
      const box = new Outbox(p.out, 1 << 20, owner());
      let expected = '';
      for (let turn = 0; turn < 20; turn++) {
        for (let i = 0; i < turn; i++) {
          const s = `${turn}.${i} `;
          box.push(frame(s));
          expected += s;
        }
        await nextTurn();
      }
      assert.equal((await p.until(expected.length)).toString(), expected);
      assert.ok(p.writes.length <= 20, `at most one write per turn, got ${p.writes.length}`);
    } finally {
      p.destroy();
    }
  });
});

describe('Outbox backpressure', () => {
  it('counts what is queued in this turn against the limit, refuses past it, and tells the owner once', async () => {
    const p = await pair();
    try {
      const o = owner();
      const box = new Outbox(p.out, 100, o);
      assert.equal(box.push(Buffer.alloc(40, 'a')), true);
      assert.equal(box.push(Buffer.alloc(60, 'b')), true, 'exactly at the limit is still accepted');
      assert.equal(o.overflows, 0);
      assert.equal(box.push(frame('c')), false, 'one byte over');
      assert.equal(o.overflows, 1);
      assert.equal(box.push(frame('d')), false, 'refuses everything after');
      assert.equal(box.push(Buffer.alloc(0)), false);
      assert.equal(o.overflows, 1, 'the owner is told once');
    } finally {
      p.destroy();
    }
  });

  it('refuses a single frame larger than the limit', async () => {
    const p = await pair();
    try {
      const o = owner();
      const box = new Outbox(p.out, 10, o);
      assert.equal(box.push(Buffer.alloc(11)), false);
      assert.equal(o.overflows, 1);
    } finally {
      p.destroy();
    }
  });

  it('counts what the kernel has not taken yet: a peer that stops reading is cut off at the limit, with little left in the socket', async () => {
    const p = await pair();
    try {
      p.peer.pause();
      const o = owner();
      const limit = 1 << 20;
      const box = new Outbox(p.out, limit, o);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let accepted = 0;
      // One frame per turn, as a steady publisher would send: never more than the limit is queued in one turn, so
      // only the socket's own backlog can make it overflow. The bound turns a missing overflow into a failure.
      for (let turn = 0; turn < 100_000 && o.overflows === 0; turn++) {
        if (box.push(chunk)) accepted++;
        await nextTurn();
      }
      assert.equal(o.overflows, 1);
      assert.ok(p.out.writableLength > 0, 'the socket still holds what the peer did not read');
      // Frames wait in the outbox while the socket is backed up, and are dropped on overflow: what the process still
      // holds in the socket, ahead of the close frame the owner writes next, is at most a chunk and a frame past the
      // socket's high-water mark (it was the whole limit). That bound is the memory a closing slow consumer keeps.
      const bound = WRITE_CHUNK + chunk.length + p.out.writableHighWaterMark;
      assert.ok(p.out.writableLength <= bound, `${p.out.writableLength} bytes left in the socket, more than ${bound}`);
      assert.equal(box.push(frame('late')), false);

      // What was handed to the socket reaches the peer once it reads again, whole frames in order, then the close.
      p.out.write(frame('CLOSE'));
      p.out.end();
      p.peer.resume();
      const got = await p.ended();
      assert.equal(got.subarray(got.length - 5).toString(), 'CLOSE');
      const frames = (got.length - 5) / chunk.length;
      assert.ok(Number.isInteger(frames) && frames > 0 && frames < accepted, `${frames} whole frames of ${accepted} accepted`);
      assert.equal(
        got.subarray(0, got.length - 5).every((b) => b === 0x78),
        true,
      );
    } finally {
      p.destroy();
    }
  });

  it('holds frames while the socket is backed up and hands them over in chunks on drain, in order', async () => {
    const p = await pair();
    try {
      p.peer.pause();
      const box = new Outbox(p.out, 64 << 20, owner());
      const size = 10 * 1024;
      const n = 800;
      // 8 MB in one turn, more than loopback's kernel buffers take while the peer does not read.
      for (let i = 0; i < n; i++) assert.equal(box.push(Buffer.alloc(size, i % 251)), true);
      await nextTurn();
      assert.ok(p.out.writableNeedDrain, 'the socket backed up');
      const handed = p.writes.reduce((sum, w) => sum + w.length, 0);
      assert.ok(handed < n * size, 'the rest waits in the outbox, where it can still be dropped');
      p.peer.resume();
      const got = await p.until(n * size);
      assert.equal(got.length, n * size);
      for (let i = 0; i < n; i++) assert.equal(got[i * size], i % 251, `frame ${i} in its place`);
      for (const w of p.writes) assert.ok(w.length <= WRITE_CHUNK + size, `a write of ${w.length} bytes`);
    } finally {
      p.destroy();
    }
  });

  it('refuses a socket that is ended or destroyed, without calling it an overflow', async () => {
    const p = await pair();
    const o = owner();
    const box = new Outbox(p.out, 1 << 20, o);
    p.out.end();
    assert.equal(box.push(frame('x')), false);
    p.destroy();
    assert.equal(box.push(frame('y')), false);
    assert.equal(o.overflows, 0);
    assert.equal(p.writes.length, 0);
  });
});

describe('Outbox close', () => {
  it('writes what was queued at once, then accepts nothing', async () => {
    const p = await pair();
    try {
      const box = new Outbox(p.out, 1 << 20, owner());
      box.push(frame('queued-1 '));
      box.push(frame('queued-2'));
      box.close();
      assert.deepEqual(p.writes.map(String), ['queued-1 queued-2'], 'written before close() returns, ahead of the Close frame');
      // The transport's Close frame goes straight to the socket after close(), as NativeConnection writes it.
      p.out.write(frame(' CLOSE'));
      assert.equal(box.push(frame(' late')), false);
      p.out.end();
      assert.equal((await p.ended()).toString(), 'queued-1 queued-2 CLOSE');
      assert.equal(p.writes.length, 2, 'the turn flush that was scheduled writes nothing more');
    } finally {
      p.destroy();
    }
  });

  it('closing an empty outbox writes nothing', async () => {
    const p = await pair();
    try {
      const box = new Outbox(p.out, 1 << 20, owner());
      box.close();
      assert.equal(box.push(frame('x')), false);
      p.out.end();
      assert.equal((await p.ended()).length, 0);
      assert.equal(p.writes.length, 0);
    } finally {
      p.destroy();
    }
  });
});

describe('Outbox flush timing', () => {
  // What an SQLite commit does: it runs in setImmediate and resolves promises whose continuations deliver. An
  // immediate queued from there would run one loop iteration later, after the next iteration's I/O.
  const deliverFromCommit = (o: Outbox, writes: Buffer[], frame: Buffer, committed: boolean): Promise<'this turn' | 'next turn'> =>
    new Promise((resolve) => {
      setImmediate(() => {
        const before = writes.length;
        if (committed) flushThisTurn();
        void Promise.resolve().then(() => o.push(frame));
        // Queued now, so it runs in the next iteration: a write made by then was made in this one.
        setImmediate(() => resolve(writes.length > before ? 'this turn' : 'next turn'));
      });
    });

  it('after a commit (flushThisTurn), a delivery made by its promise continuations is written before the loop moves on', async () => {
    const p = await pair();
    try {
      const o = new Outbox(p.out, 1 << 20, { overflow: () => {} });
      assert.equal(await deliverFromCommit(o, p.writes, Buffer.from('a'), true), 'this turn');
      // Without it, the same delivery waits for the next iteration's check phase: the ordinary coalescing.
      assert.equal(await deliverFromCommit(o, p.writes, Buffer.from('b'), false), 'next turn');
      assert.equal((await p.until(2)).toString(), 'ab');
    } finally {
      p.destroy();
    }
  });
});
