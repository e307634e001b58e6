import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKeyCheck } from '../../src/auth/api-key.ts';

test('an API key matches itself only: not a prefix, an extension, another case, another key of its length, or nothing', () => {
  const key = 'k3y-0123456789abcdef-ключ';
  const check = new ApiKeyCheck(key);
  assert.equal(check.matches(key), true);
  for (const other of [key.slice(0, -1), `${key}x`, key.toUpperCase(), `${key.slice(0, -1)}Ч`, 'x'.repeat(key.length), '', undefined]) {
    assert.equal(check.matches(other), false, JSON.stringify(other));
  }
  assert.equal(check.matchesHeader(`Bearer ${key}`), true);
  assert.equal(check.matchesHeader(`bearer   ${key}  `), true);
  for (const h of [key, `Basic ${key}`, 'Bearer ', `Bearer ${key}x`, undefined]) assert.equal(check.matchesHeader(h), false, String(h));
});
