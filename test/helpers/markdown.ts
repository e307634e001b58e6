/** A fenced code block of a Markdown document: the docs' examples are run by tests, as written. */
export interface Block {
  lang: string;
  code: string;
  /** 1-based line of the opening fence, for test names and failures. */
  line: number;
}

export function codeBlocks(md: string): Block[] {
  const out: Block[] = [];
  const re = /^```(\w+)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (let m = re.exec(md); m !== null; m = re.exec(md)) {
    out.push({ lang: m[1]!, code: m[2]!, line: md.slice(0, m.index).split('\n').length });
  }
  return out;
}
