import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { TokenService } from '../../src/auth/tokens.ts';

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
