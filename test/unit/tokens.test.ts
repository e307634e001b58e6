import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { TokenService } from '../../src/auth/tokens.ts';
import { prng } from '../helpers/prng.ts';

const SECRET = 'unit-test-token-secret-0123456789abcdef';
const tokens = new TokenService(SECRET);
const key = new TextEncoder().encode(SECRET);
const now = (): number => Math.floor(Date.now() / 1000);
const signed = (claims: Record<string, unknown>, header: Record<string, unknown> = {}, alg = 'HS256', secret = key): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg, ...header }).sign(secret);

test('accepts its own tokens, with the user, channels and expiry', async () => {
  const t = await tokens.sign('ann', { channels: ['news', 'room.*'], ttlSeconds: 60 });
  const r = await tokens.verify(t);
  assert.ok(r.ok);
  assert.equal(r.identity.user, 'ann');
  assert.deepEqual(r.identity.channels, ['news', 'room.*']);
  assert.ok(Math.abs(r.identity.expiresAt - (now() + 60) * 1000) <= 1000);
});

test('accepts tokens signed elsewhere with HS256 and the same secret (what backends do)', async () => {
  const r = await tokens.verify(await signed({ sub: 'bob', exp: now() + 60 }));
  assert.ok(r.ok);
  assert.deepEqual(r.identity.channels, []);
});

test('tells an expired token from an invalid one', async () => {
  const r = await tokens.verify(await signed({ sub: 'bob', exp: now() - 1 }));
  assert.deepEqual(r, { ok: false, expired: true, reason: 'token expired' });
});

test('refuses forged, wrongly signed, unsigned and malformed tokens', async () => {
  const good = await signed({ sub: 'bob', exp: now() + 60 });
  const [h, p, s] = good.split('.');
  const otherPayload = Buffer.from(JSON.stringify({ sub: 'mallory', exp: now() + 60 })).toString('base64url');
  const cases: [string, string][] = [
    [`${h}.${otherPayload}.${s}`, 'signature verification failed'],
    [await signed({ sub: 'bob', exp: now() + 60 }, {}, 'HS256', new TextEncoder().encode('another-secret-0123456789abcdef')), 'signature verification failed'],
    [await signed({ sub: 'bob', exp: now() + 60 }, {}, 'HS512'), 'alg must be HS256'],
    [new UnsecuredJWT({ sub: 'bob', exp: now() + 60 }).encode(), 'alg must be HS256'],
    [`${Buffer.from(JSON.stringify({ alg: 'HS256', crit: ['x'], x: 1 })).toString('base64url')}.${p}.${s}`, 'unsupported header parameter (crit, b64)'],
    [await signed({ sub: 'bob' }), 'missing required "exp" claim'],
    [await signed({ sub: 'bob', exp: now() + 60, nbf: now() + 30 }), '"nbf" claim timestamp check failed'],
    [await signed({ exp: now() + 60 }), 'sub is not a valid user id'],
    [await signed({ sub: 'bob', exp: now() + 60, channels: 'news' }), 'channels claim must be an array of strings'],
    [`${h}.${p}`, 'token must have three parts'],
  ];
  for (const [token, reason] of cases) {
    const r = await tokens.verify(token);
    assert.equal(r.ok, false, reason);
    if (!r.ok) {
      assert.equal(r.expired, false, reason);
      assert.equal(r.reason, reason);
    }
  }
  const garbage = await tokens.verify('a.b.c');
  assert.equal(garbage.ok, false);
});

test('agrees with jose jwtVerify on generated tokens: valid, tampered, re-spelt, with every claim shape', async () => {
  const r = prng(15);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const claimSets: Record<string, unknown>[] = [
    { sub: 'bob', exp: now() + 60 },
    { sub: 'bob', exp: now() + 60, channels: ['a', 'b.*'] },
    { sub: 'bob', exp: now() - 5 },
    { sub: 'bob', exp: now() + 60, nbf: now() - 5 },
    { sub: 'bob', exp: now() + 60, nbf: now() + 50 },
    { sub: 'bob', exp: '9999999999' },
    { sub: 'bob' },
    { sub: 'bob', exp: now() + 60, channels: 'x' },
  ];
  const headers: Record<string, unknown>[] = [{}, { typ: 'JWT' }, { kid: 'k1' }];
  const jose = async (t: string): Promise<boolean> => {
    try {
      const { payload } = await jwtVerify(t, key, { algorithms: ['HS256'], requiredClaims: ['exp'] });
      // Herald's own claims on top of the JWT rules: a user id in `sub`, `channels` an array of strings.
      return typeof payload.sub === 'string' && (payload.channels === undefined || Array.isArray(payload.channels));
    } catch {
      return false;
    }
  };
  let accepted = 0;
  for (let i = 0; i < 1000; i++) {
    const alg = r() < 0.9 ? 'HS256' : pick(['HS384', 'HS512']);
    let t = await signed(pick(claimSets), pick(headers), alg, r() < 0.9 ? key : new TextEncoder().encode('x'.repeat(40)));
    const [h, p, s] = t.split('.') as [string, string, string];
    switch (Math.floor(r() * 7)) {
      case 0: // one character of one segment changed
        t = [h, p, s].map((seg, k) => (k === Math.floor(r() * 3) && seg.length > 0 ? seg.slice(0, -1) + pick(['A', 'B', '_', '-', '=', '!']) : seg)).join('.');
        break;
      case 1: // padding or a junk character appended to the signature (another spelling of the same bytes)
        t = `${h}.${p}.${s}${pick(['=', '==', '===', '!', 'A', ' ', '\n', ' ='])}`;
        break;
      case 3: // base64's padding kept on every segment, as hand-written signers often do
        t = `${h}.${p}.${s}`.replace(/([^.]+)/g, (seg) => seg + '='.repeat((4 - (seg.length % 4)) % 4));
        break;
      case 2: // a segment swapped for another token's
        t = `${h}.${Buffer.from(JSON.stringify({ sub: 'eve', exp: now() + 60 })).toString('base64url')}.${s}`;
        break;
      default:
        break;
    }
    const ours = (await tokens.verify(t)).ok;
    assert.equal(ours, await jose(t), t);
    if (ours) accepted++;
  }
  assert.ok(accepted > 100, `${accepted} accepted`);
});
