// GatewayProtocol frames (reference §3) against a PHP encoder and decoder written here from the reference's field
// table with pack()/unpack() (one php-cli process, one batch): byte-for-byte encoding, decoding of PHP's frames
// however the stream is split, the §3.3 examples verbatim, and every way a stream can be wrong.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  bodyOf,
  Cmd,
  commandName,
  DEFAULT_MAX_FRAME_LENGTH,
  encodeFrame,
  encodeReply,
  FrameError,
  FrameReader,
  readBody,
  ReplyReader,
  type GatewayFrame,
} from '../../src/protocol/gatewayworker/index.ts';
import { PhpArray, phpEqual, serialize, type PhpValue } from '../../src/protocol/php/index.ts';
import { runPhpBatch, PHP_READ_INPUT } from '../helpers/php-batch.ts';
import { genRaw, PHP_BUILD, tagOf, toPhp, type Raw } from '../helpers/php-values.ts';
import { prng } from '../helpers/prng.ts';

const SEED = 0x6a7e;
const FRAMES = 3000;
const BODIES = 2000;

const FIELDS = ['cmd', 'localIp', 'localPort', 'clientIp', 'clientPort', 'connectionId', 'flag', 'gatewayPort'] as const;

// From §3.1's table: N pack_len, C cmd, N local_ip, n local_port, N client_ip, n client_port, N connection_id,
// C flag, n gateway_port, N ext_len, then ext_data and body. Replies (§3.2): N length of the payload only.
// Bodies (§3.1 flags): a scalar is its string form with bit 0 set, anything else is serialize() with it clear.
const PHP = `${PHP_BUILD}
${PHP_READ_INPUT}
foreach ($in['frames'] as $f) {
  $ext = hex2bin($f['ext']); $body = hex2bin($f['body']);
  echo bin2hex(pack('NCNnNnNCnN', 28 + strlen($ext) + strlen($body), $f['cmd'], $f['localIp'], $f['localPort'], $f['clientIp'],
    $f['clientPort'], $f['connectionId'], $f['flag'], $f['gatewayPort'], strlen($ext)) . $ext . $body), "\\n";
}
foreach ($in['ours'] as $h) {
  $buf = hex2bin($h);
  $head = unpack('Npack_len/Ccmd/Nlocal_ip/nlocal_port/Nclient_ip/nclient_port/Nconnection_id/Cflag/ngateway_port/Next_len', $buf);
  $head['ext'] = bin2hex(substr($buf, 28, $head['ext_len']));
  $head['body'] = bin2hex(substr($buf, 28 + $head['ext_len']));
  echo json_encode($head), "\\n";
}
foreach ($in['replies'] as $h) { $p = hex2bin($h); echo bin2hex(pack('N', strlen($p)) . $p), "\\n"; }
foreach ($in['bodies'] as $t) {
  $v = build($t);
  if (is_scalar($v)) { $flag = 1; $body = (string)$v; } else { $flag = 0; $body = serialize($v); }
  echo json_encode([$flag, bin2hex($body)]), "\\n";
}
`;

function genBytes(r: () => number): Buffer {
  const k = r();
  const n = k < 0.3 ? 0 : k < 0.95 ? Math.floor(r() * 200) : Math.floor(r() * 70_000);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function genFrame(r: () => number): GatewayFrame {
  const u32 = () => (r() < 0.2 ? [0, 1, 0xffffffff, 0x7f000001][Math.floor(r() * 4)]! : Math.floor(r() * 2 ** 32));
  const u16 = () => (r() < 0.2 ? [0, 1, 0xffff][Math.floor(r() * 3)]! : Math.floor(r() * 2 ** 16));
  return {
    cmd: Math.floor(r() * 256),
    localIp: u32(),
    localPort: u16(),
    clientIp: u32(),
    clientPort: u16(),
    connectionId: u32(),
    flag: Math.floor(r() * 4),
    gatewayPort: u16(),
    extData: genBytes(r),
    body: genBytes(r),
  };
}

/** A scalar-or-array value for a body: floats have no body form, so they are left out. */
function genBodyRaw(r: () => number): Raw {
  for (;;) {
    const raw = genRaw(r);
    if (!JSON.stringify(tagOf(raw)).includes('["f"')) return raw;
  }
}

function assertFrame(got: GatewayFrame | undefined, want: GatewayFrame, what: string): void {
  assert.ok(got, `${what}: missing frame`);
  for (const f of FIELDS) assert.equal(got[f], want[f], `${what}: ${f}`);
  assert.ok(got.extData.equals(want.extData), `${what}: extData`);
  assert.ok(got.body.equals(want.body), `${what}: body`);
}

/** Pushes `stream` in pieces cut at `cuts` (sorted offsets) and returns every frame. */
function readSplit(stream: Buffer, cuts: number[]): GatewayFrame[] {
  const reader = new FrameReader({ maxFrameLength: 1 << 20 });
  const out: GatewayFrame[] = [];
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    const res = reader.push(stream.subarray(at, cut));
    assert.equal(res.error, undefined);
    out.push(...res.frames);
    at = cut;
  }
  assert.equal(reader.end(), undefined);
  assert.equal(reader.buffered, 0);
  return out;
}

describe('GatewayProtocol frames: differential against a PHP pack() encoder', () => {
  const r = prng(SEED);
  const frames = Array.from({ length: FRAMES }, () => genFrame(r));
  const ours = frames.map((f) => encodeFrame(f));
  const replies = Array.from({ length: 300 }, () => serialize(toPhp(genRaw(r))));
  const bodyRaws = Array.from({ length: BODIES }, () => genBodyRaw(r));
  const hex = (b: Buffer) => b.toString('hex');
  let phpFrames: Buffer[] = [];
  let phpDecoded: Record<string, number | string>[] = [];
  let phpReplies: Buffer[] = [];
  let phpBodies: [number, string][] = [];
  before(async () => {
    const lines = await runPhpBatch(PHP, {
      frames: frames.map((f) => ({ ...f, ext: hex(f.extData), body: hex(f.body), extData: undefined })),
      ours: ours.map(hex),
      replies: replies.map(hex),
      bodies: bodyRaws.map(tagOf),
    });
    assert.equal(lines.length, 2 * FRAMES + replies.length + BODIES);
    phpFrames = lines.slice(0, FRAMES).map((l) => Buffer.from(l, 'hex'));
    phpDecoded = lines.slice(FRAMES, 2 * FRAMES).map((l) => JSON.parse(l) as Record<string, number | string>);
    phpReplies = lines.slice(2 * FRAMES, 2 * FRAMES + replies.length).map((l) => Buffer.from(l, 'hex'));
    phpBodies = lines.slice(2 * FRAMES + replies.length).map((l) => JSON.parse(l) as [number, string]);
  });

  it(`encodeFrame() writes PHP's bytes for ${FRAMES} generated frames`, () => {
    frames.forEach((_, i) => assert.ok((ours[i] as Buffer).equals(phpFrames[i] as Buffer), `frame ${i}`));
  });

  it("PHP's unpack() reads our frames' fields", () => {
    frames.forEach((f, i) => {
      const d = phpDecoded[i] as Record<string, number | string>;
      assert.equal(d.pack_len, 28 + f.extData.length + f.body.length);
      assert.deepEqual(
        [d.cmd, d.local_ip, d.local_port, d.client_ip, d.client_port, d.connection_id, d.flag, d.gateway_port, d.ext, d.body],
        [f.cmd, f.localIp, f.localPort, f.clientIp, f.clientPort, f.connectionId, f.flag, f.gatewayPort, hex(f.extData), hex(f.body)],
      );
    });
  });

  it("FrameReader reads PHP's stream whole, in random pieces, and byte by byte", () => {
    const stream = Buffer.concat(phpFrames);
    const whole = readSplit(stream, []);
    assert.equal(whole.length, FRAMES);
    whole.forEach((f, i) => assertFrame(f, frames[i] as GatewayFrame, `frame ${i}`));
    for (let round = 0; round < 5; round++) {
      const cuts = Array.from({ length: 2000 }, () => Math.floor(r() * stream.length)).sort((a, b) => a - b);
      const got = readSplit(stream, cuts);
      assert.equal(got.length, FRAMES);
      got.forEach((f, i) => assertFrame(f, frames[i] as GatewayFrame, `round ${round} frame ${i}`));
    }
    const small = Buffer.concat(phpFrames.filter((f) => f.length < 300).slice(0, 40));
    const count = phpFrames.filter((f) => f.length < 300).slice(0, 40).length;
    const bytewise = readSplit(
      small,
      Array.from({ length: small.length - 1 }, (_, i) => i + 1),
    );
    assert.equal(bytewise.length, count);
  });

  it("encodeReply() writes PHP's reply bytes and ReplyReader reads them split anywhere", () => {
    replies.forEach((p, i) => assert.ok(encodeReply(p).equals(phpReplies[i] as Buffer), `reply ${i}`));
    const stream = Buffer.concat(phpReplies);
    const reader = new ReplyReader();
    const got: Buffer[] = [];
    for (let at = 0; at < stream.length;) {
      const n = 1 + Math.floor(r() * 97);
      got.push(...reader.push(stream.subarray(at, at + n)).frames);
      at += n;
    }
    assert.equal(reader.end(), undefined);
    assert.deepEqual(got, replies);
  });

  it(`bodyOf() gives PHP's flag and bytes for ${BODIES} values, and readBody() reads them back`, () => {
    bodyRaws.forEach((raw, i) => {
      const v = toPhp(raw);
      const { flag, body } = bodyOf(v);
      const [phpFlag, phpBody] = phpBodies[i] as [number, string];
      assert.equal(flag, phpFlag, `flag of ${JSON.stringify(tagOf(raw))}`);
      assert.equal(body.toString('hex'), phpBody);
      const back = readBody({ flag, body });
      if (back.kind === 'value') assert.ok(phpEqual(back.value, v));
      else assert.equal(back.kind, 'scalar');
    });
  });
});

describe('GatewayProtocol frames: the reference §3.3 examples, verbatim', () => {
  const h = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
  const zero = { localIp: 0, localPort: 0, clientIp: 0, clientPort: 0, connectionId: 0, gatewayPort: 0 };
  const cases: [string, Buffer, GatewayFrame][] = [
    [
      'WORKER_CONNECT (81 B)',
      Buffer.concat([
        h('00000051 c8 00000000 0000 00000000 0000 00000000 01 0000 00000000'),
        Buffer.from('{"worker_key":"ChatBusinessWorker:0","secret_key":""}'),
      ]),
      { ...zero, cmd: Cmd.WORKER_CONNECT, flag: 1, extData: Buffer.alloc(0), body: Buffer.from('{"worker_key":"ChatBusinessWorker:0","secret_key":""}') },
    ],
    [
      'GATEWAY_CLIENT_CONNECT (51 B)',
      Buffer.concat([h('00000033 ca 00000000 0000 00000000 0000 00000000 01 0000 00000000'), Buffer.from('{"secret_key":"s3cret"}')]),
      { ...zero, cmd: Cmd.GATEWAY_CLIENT_CONNECT, flag: 1, extData: Buffer.alloc(0), body: Buffer.from('{"secret_key":"s3cret"}') },
    ],
    [
      'PING (28 B)',
      h('0000001c c9 00000000 0000 00000000 0000 00000000 01 0000 00000000'),
      { ...zero, cmd: Cmd.PING, flag: 1, extData: Buffer.alloc(0), body: Buffer.alloc(0) },
    ],
    [
      'SEND_TO_ONE (33 B)',
      h('00000021 05 00000000 0000 00000000 0000 00000001 01 0000 00000000 68656c6c6f'),
      { ...zero, cmd: Cmd.SEND_TO_ONE, connectionId: 1, flag: 1, extData: Buffer.alloc(0), body: Buffer.from('hello') },
    ],
    [
      'KICK with null (30 B)',
      h('0000001e 07 00000000 0000 00000000 0000 00000001 00 0000 00000000 4e3b'),
      { ...zero, cmd: Cmd.KICK, connectionId: 1, flag: 0, extData: Buffer.alloc(0), body: Buffer.from('N;') },
    ],
    [
      'JOIN_GROUP 1 (29 B)',
      h('0000001d 14 00000000 0000 00000000 0000 00000001 01 0000 00000001 31'),
      { ...zero, cmd: Cmd.JOIN_GROUP, connectionId: 1, flag: 1, extData: Buffer.from('1'), body: Buffer.alloc(0) },
    ],
    [
      'SEND_TO_GROUP (68 B)',
      Buffer.concat([h('00000044 16 00000000 0000 00000000 0000 00000000 01 0000 0000001c'), Buffer.from('{"group":[1],"exclude":null}{"type":"x"}')]),
      { ...zero, cmd: Cmd.SEND_TO_GROUP, flag: 1, extData: Buffer.from('{"group":[1],"exclude":null}'), body: Buffer.from('{"type":"x"}') },
    ],
    [
      'IS_ONLINE (28 B)',
      h('0000001c 0b 00000000 0000 00000000 0000 00000001 01 0000 00000000'),
      { ...zero, cmd: Cmd.IS_ONLINE, connectionId: 1, flag: 1, extData: Buffer.alloc(0), body: Buffer.alloc(0) },
    ],
    [
      'ON_MESSAGE (71 B)',
      Buffer.concat([h('00000047 03 7f000001 08fc 7f000001 d431 00000001 01 1c68 0000001c'), Buffer.from('a:1:{s:7:"room_id";s:1:"1";}{"type":"pong"}')]),
      {
        cmd: Cmd.ON_MESSAGE,
        localIp: 0x7f000001,
        localPort: 2300,
        clientIp: 0x7f000001,
        clientPort: 54321,
        connectionId: 1,
        flag: 1,
        gatewayPort: 7272,
        extData: Buffer.from('a:1:{s:7:"room_id";s:1:"1";}'),
        body: Buffer.from('{"type":"pong"}'),
      },
    ],
  ];

  for (const [name, bytes, frame] of cases) {
    it(`${name}: encoded and decoded exactly`, () => {
      assert.equal(bytes.length, Number(/\((\d+) B\)/.exec(name)?.[1]));
      assert.ok(encodeFrame(frame).equals(bytes), hexDiff(encodeFrame(frame), bytes));
      const res = new FrameReader().push(bytes);
      assert.equal(res.frames.length, 1);
      assertFrame(res.frames[0], frame, name);
      assert.ok(commandName(frame.cmd));
    });
  }

  it("IS_ONLINE's reply: 00000004 693a313b (i:1;)", () => {
    assert.ok(encodeReply(serialize(1)).equals(h('00000004 693a313b')));
    assert.deepEqual(new ReplyReader().push(h('00000004 693a313b')).frames, [Buffer.from('i:1;')]);
  });

  it('KICK bodies: no message is N; with flag 0, a message is scalar', () => {
    assert.deepEqual(bodyOf(null), { flag: 0, body: Buffer.from('N;') });
    assert.deepEqual(bodyOf(''), { flag: 1, body: Buffer.alloc(0) });
    assert.deepEqual(bodyOf(false), { flag: 1, body: Buffer.alloc(0) });
    assert.deepEqual(readBody({ flag: 0, body: Buffer.from('N;') }), { kind: 'value', value: null });
    const bad = readBody({ flag: 0, body: Buffer.from('O:8:"stdClass":0:{}') });
    assert.ok(bad.kind === 'invalid' && bad.error.code === 'object');
    assert.ok(phpEqual((readBody({ flag: 0, body: serialize(PhpArray.list([1])) }) as { value: PhpValue }).value, PhpArray.list([1])));
  });
});

function hexDiff(a: Buffer, b: Buffer): string {
  return `ours ${a.toString('hex')}\nref  ${b.toString('hex')}`;
}

describe('GatewayProtocol frames: wrong streams give typed errors', () => {
  const ping = encodeFrame({ cmd: Cmd.PING, flag: 1 });
  const withLength = (len: number, ext = 0) => {
    const b = Buffer.alloc(28);
    b.writeUInt32BE(len, 0);
    b.writeUInt32BE(ext, 24);
    return b;
  };
  const errorOf = (bytes: Buffer, max?: number) => {
    const res = new FrameReader(max === undefined ? {} : { maxFrameLength: max }).push(bytes);
    assert.ok(res.error instanceof FrameError);
    return res;
  };

  it('a pack_len under 28, an ext_len beyond the frame, a 2 GB length and one over the limit', () => {
    assert.equal(errorOf(withLength(0)).error?.code, 'too_short');
    assert.equal(errorOf(withLength(27)).error?.code, 'too_short');
    assert.equal(errorOf(withLength(40, 13)).error?.code, 'bad_ext_length');
    assert.equal(errorOf(withLength(0xffffffff, 0xffffffff)).error?.code, 'too_large');
    const twoGb = errorOf(withLength(0x80000000));
    assert.equal(twoGb.error?.code, 'too_large');
    assert.equal(errorOf(withLength(DEFAULT_MAX_FRAME_LENGTH + 1)).error?.code, 'too_large');
    assert.equal(errorOf(withLength(1001), 1000).error?.code, 'too_large');
    assert.deepEqual(new FrameReader({ maxFrameLength: 1000 }).push(Buffer.concat([withLength(1000), Buffer.alloc(972)])).error, undefined);
  });

  it('rejects a 2 GB length from its header alone, holding only the bytes received', () => {
    const reader = new FrameReader();
    assert.deepEqual(reader.push(withLength(0x80000000).subarray(0, 27)).frames, []);
    assert.equal(reader.buffered, 27);
    assert.equal(reader.push(withLength(0x80000000).subarray(27)).error?.code, 'too_large');
  });

  it('returns the frames before an error, then the same error on every push', () => {
    const reader = new FrameReader();
    const res = reader.push(Buffer.concat([ping, ping, withLength(3)]));
    assert.equal(res.frames.length, 2);
    assert.equal(res.error?.code, 'too_short');
    assert.equal(res.error?.offset, 56);
    assert.deepEqual(reader.push(ping), { frames: [], error: res.error });
    assert.equal(reader.error, res.error);
  });

  it('a stream ending inside a frame is truncated, at every byte', () => {
    const frame = encodeFrame({ cmd: Cmd.SEND_TO_UID, extData: '["42"]', body: 'hello', flag: 1 });
    for (let n = 1; n < frame.length; n++) {
      const reader = new FrameReader();
      assert.deepEqual(reader.push(frame.subarray(0, n)).frames, []);
      assert.equal(reader.end()?.code, 'truncated', `cut at ${n}`);
    }
    const whole = new FrameReader();
    assert.equal(whole.push(frame).frames.length, 1);
    assert.equal(whole.end(), undefined);
    const reply = new ReplyReader();
    reply.push(Buffer.from([0, 0, 0, 9, 0x69]));
    assert.equal(reply.end()?.code, 'truncated');
  });

  it('random garbage never throws out of push, whatever the chunking', () => {
    const r = prng(SEED + 1);
    for (let round = 0; round < 300; round++) {
      const reader = new FrameReader({ maxFrameLength: 4096 });
      const garbage = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 600) }, () => (r() < 0.5 ? 0 : Math.floor(r() * 256))));
      for (let at = 0; at < garbage.length;) {
        const n = 1 + Math.floor(r() * 50);
        const res = reader.push(garbage.subarray(at, at + n));
        for (const f of res.frames) assert.equal(28 + f.extData.length + f.body.length <= 4096, true);
        at += n;
      }
      const end = reader.end();
      assert.ok(end === undefined || end instanceof FrameError);
    }
  });

  it('encodeFrame refuses header fields out of range', () => {
    assert.throws(() => encodeFrame({ cmd: 256 }), RangeError);
    assert.throws(() => encodeFrame({ cmd: 1, localPort: 65536 }), RangeError);
    assert.throws(() => encodeFrame({ cmd: 1, connectionId: -1 }), RangeError);
    assert.throws(() => encodeFrame({ cmd: 1, clientIp: 2 ** 32 }), RangeError);
  });
});
