// Differential test of the Workerman websocket port (1234): the listener on Herald's own WebSocket layer against
// the `ws`-based one it replaced (test/fixtures/raw-uid-on-ws.ts, the old code, sharing the same hub and config).
// Both get the same bytes (handshakes, then generated frame sequences: text, binary, fragments, pings, closes,
// oversize, unmasked, RSV bits, bad opcodes, invalid UTF-8, too many fragments, pushes, kicks, heartbeats) and must
// answer the same frames, close codes and connection ends, in the same order.
//
// Generated cases come from a seeded generator: HERALD_DIFF_SEED=<n> replays a run, HERALD_DIFF_CASES=<n> runs more.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCompat, type CompatHerald } from '../helpers/compat.ts';
import { closePayload, frame, handshakeRequest, OP, RawWs } from '../helpers/raw-ws.ts';
import { startOldWebsocketPort } from '../fixtures/raw-uid-on-ws.ts';
import { prng } from '../helpers/prng.ts';

const MAX = 1024;
const SEED = Number(process.env.HERALD_DIFF_SEED ?? 12);
const CASES = Number(process.env.HERALD_DIFF_CASES ?? 300);
/** What `ws` allows one message to span by default (maxFragments). */
const MAX_FRAGMENTS = 16 * 1024;

class Gen {
  constructor(readonly next: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(0, 255)));
  }
  /** Valid UTF-8 of at most `max` bytes, mixing 1- to 4-byte characters. */
  text(max: number): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    const target = this.int(0, max);
    for (;;) {
      const c = Buffer.from(this.pick(['a', 'z', ' ', '{', '"', 'é', '€', '😀', '\u0000', '\n']));
      if (n + c.length > target) break;
      parts.push(c);
      n += c.length;
    }
    return Buffer.concat(parts);
  }
  /** Text with one invalid UTF-8 sequence inside. */
  badText(): Buffer {
    const bad = Buffer.from(this.pick([[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf]]));
    const t = this.text(40);
    const at = this.int(0, t.length);
    return Buffer.concat([t.subarray(0, at), bad, t.subarray(at)]);
  }
  /** `data` cut into `k` pieces (some may be empty). */
  split(data: Buffer, k: number): Buffer[] {
    const cuts = Array.from({ length: k - 1 }, () => this.int(0, data.length)).sort((x, y) => x - y);
    return [0, ...cuts].map((c, i) => data.subarray(c, i + 1 < k ? cuts[i] : data.length));
  }
}

/** One step of a case. `bytes` gets the side's uid and token, so each side logs in as its own user. */
type Step =
  | { kind: 'send'; label: string; bytes: (uid: string, token: string) => Buffer }
  | { kind: 'login'; label: string; bytes: (uid: string, token: string) => Buffer }
  | { kind: 'sync' }
  | { kind: 'push'; data: unknown }
  | { kind: 'kick' };

interface Case {
  name: string;
  path: string;
  /** Bytes sent in the same write as the handshake. */
  withHandshake?: (uid: string, token: string) => Buffer;
  steps: Step[];
  finish: 'close' | 'fin';
}

const send = (label: string, bytes: Buffer): Step => ({ kind: 'send', label, bytes: () => bytes });

function fragments(g: Gen, opcode: number, data: Buffer, k: number, interleave: boolean): Buffer {
  const parts = g.split(data, k);
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    out.push(frame(i === 0 ? opcode : OP.cont, p, { fin: i === k - 1 }));
    if (interleave && i < k - 1 && g.chance(0.5)) out.push(frame(g.pick([OP.ping, OP.pong]), g.bytes(g.int(0, 20))));
  });
  return Buffer.concat(out);
}

/** A step that keeps the connection open (as far as the protocol goes). */
function benign(g: Gen): Step {
  switch (g.int(0, 7)) {
    case 0:
      return send('text', frame(OP.text, g.text(MAX), { lenForm: g.pick([undefined, undefined, 16, 64] as const) }));
    case 1:
      return send('binary', frame(OP.binary, g.bytes(g.int(0, MAX))));
    case 2:
      return send('fragmented text', fragments(g, OP.text, g.text(MAX), g.int(2, 5), true));
    case 3:
      return send('fragmented binary', fragments(g, OP.binary, g.bytes(g.int(0, MAX)), g.int(2, 5), true));
    case 4:
      return send('ping', frame(OP.ping, g.bytes(g.int(0, 125))));
    case 5:
      return send('pong', frame(OP.pong, g.bytes(g.int(0, 125))));
    case 6:
      return send('zero mask', frame(OP.text, g.text(60), { mask: Buffer.alloc(4) }));
    default:
      return { kind: 'push', data: g.pick(['plain <text>', { a: [1, 'two'] }, 42, 'x'.repeat(70_000), '€uro']) };
  }
}

/** A step after which a correct server closes (or the client did). */
function breaking(g: Gen): Step {
  switch (g.int(0, 14)) {
    case 0:
      return send('oversize', frame(OP.text, Buffer.alloc(0), { len: g.pick([MAX + 1, MAX + 5000, 2 ** 32 + 1, 2 ** 60]) }));
    case 1:
      return send('oversize over fragments', Buffer.concat([frame(OP.binary, g.bytes(MAX - 10), { fin: false }), frame(OP.cont, g.bytes(11))]));
    case 2:
      return send('unmasked', frame(OP.text, 'hi', { masked: false }));
    case 3:
      return send('rsv', frame(g.pick([OP.text, OP.ping, OP.binary]), 'r', { rsv: g.int(1, 7) }));
    case 4:
      return send('reserved opcode', frame(g.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), 'x'));
    case 5:
      return send('long control', frame(g.pick([OP.ping, OP.pong, OP.close]), g.bytes(g.int(126, 200))));
    case 6:
      return send('short control in a long form', frame(OP.ping, 'p', { lenForm: g.pick([16, 64] as const) }));
    case 7:
      return send('fragmented control', frame(OP.ping, 'x', { fin: false }));
    case 8:
      return send('continuation without a message', frame(OP.cont, 'x', { fin: g.chance(0.5) }));
    case 9:
      return send('message inside a fragmented one', Buffer.concat([frame(OP.text, 'a', { fin: false }), frame(g.pick([OP.text, OP.binary]), 'b')]));
    case 10:
      return send('invalid UTF-8', g.chance(0.5) ? frame(OP.text, g.badText()) : fragments(g, OP.text, g.badText(), g.int(2, 4), false));
    case 11:
      return send('close, valid', frame(OP.close, g.chance(0.2) ? '' : closePayload(g.pick([1000, 1001, 1003, 1011, 1014, 3000, 4000, 4999]), g.text(60))));
    case 12:
      return send('close, bad code', frame(OP.close, closePayload(g.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000]))));
    case 13:
      return send('close, bad payload', frame(OP.close, g.chance(0.5) ? Buffer.from([3]) : closePayload(1000, g.badText())));
    default:
      return { kind: 'kick' };
  }
}

type LoginStep = Extract<Step, { kind: 'login' }>;

function login(g: Gen): LoginStep {
  const v = g.int(0, 19);
  const l = (label: string, bytes: (uid: string, token: string) => Buffer): LoginStep => ({ kind: 'login', label, bytes });
  if (v < 8) return l('uid', (uid) => frame(OP.text, uid));
  if (v < 10) return l('token', (_uid, token) => frame(OP.text, token));
  if (v < 12) {
    // Cut at run time (the uid is the side's), the same way for both sides.
    const seed = g.int(0, 2 ** 31);
    return l('fragmented uid', (uid) => fragments(new Gen(prng(seed)), OP.text, Buffer.from(uid), 3, true));
  }
  const bad: [string, Buffer][] = [
    ['binary', frame(OP.binary, Buffer.from([0, 0xff, 0x13]))],
    ['empty', frame(OP.text, '')],
    ['control character', frame(OP.text, 'bad\u0001uid')],
    ['long uid', frame(OP.text, 'u'.repeat(300))],
    ['oversize', frame(OP.text, 'y'.repeat(MAX + 1))],
    ['forged token', frame(OP.text, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl')],
    ['invalid UTF-8', frame(OP.text, Buffer.from([0x75, 0xff]))],
    ['close first', frame(OP.close, closePayload(1000, 'never mind'))],
  ];
  const [label, bytes] = bad[v - 12]!;
  return l(label, () => bytes);
}

function generate(n: number): Case[] {
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    const g = new Gen(prng(SEED * 100_003 + i));
    const steps: Step[] = [];
    for (let k = g.int(0, 2); k > 0; k--) steps.push(send('pre-login control', frame(g.pick([OP.ping, OP.pong]), g.bytes(g.int(0, 10)))));
    const first = login(g);
    const withHandshake = g.chance(0.1) ? first.bytes : undefined;
    if (withHandshake === undefined) steps.push(first);
    for (let k = g.int(1, 6); k > 0; k--) {
      steps.push(g.chance(0.8) ? benign(g) : breaking(g));
      if (g.chance(0.5)) steps.push({ kind: 'sync' });
    }
    const labels = steps.map((s) => (s.kind === 'send' || s.kind === 'login' ? s.label : s.kind));
    cases.push({
      name: `#${i}: ${withHandshake ? '(login with the handshake) ' : ''}${labels.join(', ')}`,
      path: g.pick(['/', '/x?y=1', '/ws']),
      ...(withHandshake ? { withHandshake } : {}),
      steps,
      finish: g.chance(0.8) ? 'close' : 'fin',
    });
  }
  return cases;
}

/** Clients whose waits also depend on the hub: a login shows there only (the port answers nothing). */
const open = new Set<RawWs>();

/** Pokes the open clients on every login, so a wait for "logged in or refused" needs no polling. */
function watchLogins(h: CompatHerald): void {
  const poke = (): void => {
    for (const ws of open) ws.poke();
  };
  h.server.context.hub.observe({ connected: poke });
}

/** Runs `c` against the listener on `port` as user `uid`; returns what the server did, in order. */
async function run(h: CompatHerald, port: number, c: Case, uid: string): Promise<string[]> {
  const hub = h.server.context.hub;
  const token = await h.token(uid);
  const ws = await RawWs.open(port, handshakeRequest(port, c.path), c.withHandshake?.(uid, token));
  open.add(ws);
  try {
    return await steps(h, ws, c, uid, token, () => hub.connectionsOf(uid).size > 0);
  } finally {
    open.delete(ws);
  }
}

async function steps(h: CompatHerald, ws: RawWs, c: Case, uid: string, token: string, loggedIn: () => boolean): Promise<string[]> {
  const closing = (): boolean => ws.closeFrame !== undefined || ws.ended || ws.closed;
  const settle = (): Promise<void> => ws.until(() => loggedIn() || closing());
  let syncs = 0;
  const sync = async (): Promise<void> => {
    const marker = Buffer.from(`sync${++syncs}`);
    ws.send(frame(OP.ping, marker));
    await ws.until(() => closing() || ws.frames.some((f) => f.opcode === OP.pong && f.payload.equals(marker)));
  };
  if (c.withHandshake) await settle();
  for (const step of c.steps) {
    if (step.kind === 'send') ws.send(step.bytes(uid, token));
    else if (step.kind === 'login') {
      ws.send(step.bytes(uid, token));
      await settle();
    } else if (step.kind === 'sync') await sync();
    else {
      // Only while the connection is logged in and open; after a close no data frame may follow (RFC 6455 5.5.1).
      await sync();
      if (!loggedIn() || closing()) continue;
      const before = ws.frames.length;
      if (step.kind === 'push') await h.api('POST', '/api/publish', { to: { user: uid }, data: step.data });
      else await h.api('POST', `/api/users/${uid}/disconnect`, {});
      await ws.until(() => closing() || ws.frames.length > before);
    }
  }
  if (c.finish === 'fin') ws.socket.end();
  else ws.send(frame(OP.close, ws.closeFrame?.payload ?? closePayload(1000, 'done')));
  await ws.until(() => ws.closed);
  return [`status ${ws.status}`, ...ws.transcript];
}

describe('compat websocket (1234): the same answers as the `ws` listener it replaced', () => {
  let h: CompatHerald;
  let old: Awaited<ReturnType<typeof startOldWebsocketPort>>;
  before(async () => {
    h = await startCompat({ maxClientMessageBytes: MAX, handshakeTimeoutMs: 10_000 }, { heartbeatMs: 300_000, store: { type: 'memory' } });
    old = await startOldWebsocketPort(h.server.context);
    watchLogins(h);
  });
  after(async () => {
    await old.close();
    await h.close();
  });

  it('accepts and refuses the same handshakes', async () => {
    const variants: [string, Record<string, string | string[] | undefined>, string?][] = [
      ['plain', {}],
      ['version 8', { 'Sec-WebSocket-Version': '8' }],
      ['version 013', { 'Sec-WebSocket-Version': '013' }],
      ['version 12', { 'Sec-WebSocket-Version': '12' }],
      ['version empty', { 'Sec-WebSocket-Version': '' }],
      ['no version', { 'Sec-WebSocket-Version': undefined }],
      ['no key', { 'Sec-WebSocket-Key': undefined }],
      ['short key', { 'Sec-WebSocket-Key': 'c2hvcnQ=' }],
      ['key without padding', { 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQAA' }],
      ['one subprotocol', { 'Sec-WebSocket-Protocol': 'chat' }],
      ['two subprotocols', { 'Sec-WebSocket-Protocol': 'chat, superchat' }],
      ['subprotocols without a space', { 'Sec-WebSocket-Protocol': 'a,b' }],
      ['subprotocol twice', { 'Sec-WebSocket-Protocol': 'a, a' }],
      ['subprotocol with a space inside', { 'Sec-WebSocket-Protocol': 'a b' }],
      ['empty subprotocol', { 'Sec-WebSocket-Protocol': '' }],
      ['trailing comma', { 'Sec-WebSocket-Protocol': 'a,' }],
      ['leading comma', { 'Sec-WebSocket-Protocol': ',a' }],
      ['quoted subprotocol', { 'Sec-WebSocket-Protocol': '"a"' }],
      ['two protocol headers', { 'Sec-WebSocket-Protocol': ['a', 'b'] }],
      ['permessage-deflate offered', { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' }],
      ['Upgrade in capitals', { Upgrade: 'WebSocket' }],
      ['another upgrade', { Upgrade: 'h2c' }],
      ['Connection list', { Connection: 'keep-alive, Upgrade' }],
      ['no upgrade token', { Connection: 'keep-alive' }],
      ['no Upgrade header', { Upgrade: undefined }],
      ['an Origin', { Origin: 'https://shop.example' }],
      ['POST', {}, 'POST'],
    ];
    for (const [name, headers, method] of variants) {
      const answers: string[] = [];
      for (const port of [h.ports.websocket, old.port]) {
        const ws = await RawWs.open(port, handshakeRequest(port, '/', headers, method));
        // Refusals differ in wording on purpose (Herald's reasons as text/plain, `ws`'s as text/html): compared
        // are the status and the version a refusal advertises; an acceptance is compared byte for byte.
        answers.push(ws.status === 101 ? ws.head : `${ws.status} version=${ws.headers['sec-websocket-version'] ?? '-'}`);
        if (ws.status === 101) ws.send(frame(OP.close, closePayload(1000)));
        await ws.until(() => ws.closed);
      }
      assert.equal(answers[0], answers[1], `handshake "${name}"`);
    }
  });

  it(`answers ${CASES} generated frame sequences the same (seed ${SEED})`, async () => {
    const cases = generate(CASES);
    let logins = 0;
    for (const [i, c] of cases.entries()) {
      const uid = (side: string): string => `s${SEED}c${i}${side}`;
      const [ours, theirs] = await Promise.all([run(h, h.ports.websocket, c, uid('n')), run(h, old.port, c, uid('o'))]);
      assert.deepEqual(ours, theirs, `case ${c.name}`);
      if (c.steps.some((s) => s.kind === 'login')) logins++;
    }
    assert.ok(logins > CASES / 2);
  });

  it(`takes a message of ${MAX_FRAGMENTS} fragments and refuses one more with 1008, before and after login`, async () => {
    const many = (n: number): Buffer =>
      Buffer.concat([frame(OP.text, '', { fin: false }), ...Array.from({ length: n - 2 }, () => frame(OP.cont, '', { fin: false })), frame(OP.cont, 'x')]);
    const uid: Step = { kind: 'login', label: 'uid', bytes: (u) => frame(OP.text, u) };
    const sync: Step = { kind: 'sync' };
    const cases: Case[] = [
      { name: 'at the limit, after login', path: '/', steps: [uid, send('max', many(MAX_FRAGMENTS)), sync], finish: 'close' },
      { name: 'over the limit, after login', path: '/', steps: [uid, send('max+1', many(MAX_FRAGMENTS + 1)), sync], finish: 'close' },
      { name: 'over the limit, as the login', path: '/', steps: [send('max+1', many(MAX_FRAGMENTS + 1)), sync], finish: 'close' },
    ];
    for (const [i, c] of cases.entries()) {
      const [ours, theirs] = await Promise.all([run(h, h.ports.websocket, c, `frag${i}n`), run(h, old.port, c, `frag${i}o`)]);
      assert.deepEqual(ours, theirs, c.name);
    }
  });
});

describe('compat websocket (1234): the same heartbeat as the `ws` listener it replaced', () => {
  let h: CompatHerald;
  let old: Awaited<ReturnType<typeof startOldWebsocketPort>>;
  before(async () => {
    h = await startCompat({ handshakeTimeoutMs: 10_000 }, { heartbeatMs: 1000 });
    old = await startOldWebsocketPort(h.server.context);
  });
  after(async () => {
    await old.close();
    await h.close();
  });

  // The rounds of the two listeners are not in step, so each run is compared as a sequence of frames, not in time.
  const scenarios: [string, boolean, (n: number, payload: Buffer) => Buffer | undefined][] = [
    ['a peer that never answers is dropped without a close frame at the round after its first ping', false, () => undefined],
    ['a logged-in page that answers two pings and then goes silent', true, (n, p) => (n <= 2 ? frame(OP.pong, p) : undefined)],
    ['a page that sends messages instead of pongs stays alive as long as it does', true, (n) => (n <= 2 ? frame(OP.text, 'still here') : undefined)],
  ];
  for (const [name, logIn, onPing] of scenarios) {
    it(name, async () => {
      const transcript = async (port: number, uid: string): Promise<string[]> => {
        const ws = await RawWs.open(port, handshakeRequest(port), logIn ? frame(OP.text, uid) : undefined);
        ws.onPing = onPing;
        await ws.until(() => ws.closed, 15_000);
        return ws.transcript;
      };
      const [ours, theirs] = await Promise.all([transcript(h.ports.websocket, 'hb-n'), transcript(old.port, 'hb-o')]);
      assert.deepEqual(ours, theirs);
      assert.equal(ours.filter((t) => t.startsWith('frame 89')).length, logIn ? 3 : 1);
    });
  }
});
