import { PhpArray } from './value.ts';

/**
 * PHP's array_replace_recursive($base, $update), as UPDATE_SESSION (cmd 9) merges sessions: for each key of
 * `update` in order, two arrays merge recursively, anything else replaces; new keys go to the end, keys of `base`
 * keep their place. Lists merge by index ([1,2,3] updated with [9] is [9,2,3]). Neither input is changed.
 */
export function arrayReplaceRecursive(base: PhpArray, update: PhpArray): PhpArray {
  const out = PhpArray.from(base);
  for (const [k, v] of update) {
    const old = out.get(k);
    out.set(k, old instanceof PhpArray && v instanceof PhpArray ? arrayReplaceRecursive(old, v) : v);
  }
  return out;
}
