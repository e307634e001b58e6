const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#039;' };

/**
 * PHP 8's `htmlspecialchars($s)` with its default flags `ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML401` and
 * `double_encode = true`: `& < > " '` become `&amp; &lt; &gt; &quot; &#039;`, everything else is unchanged
 * (existing entities are escaped again). ENT_SUBSTITUTE's replacement of invalid UTF-8 by U+FFFD already happened
 * when the bytes were decoded to a string, so nothing else is left to do.
 */
export function htmlspecialchars(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}
