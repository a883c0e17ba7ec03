/**
 * Raw number tokens of a JSON object's top-level members, so integers above 2^53 can be read
 * exactly (JSON.parse rounds them to the nearest double).
 *
 * Synchronous, pure. Call it only on text JSON.parse has already accepted as an object: it
 * relies on that for syntax and never throws on such text. Returns key → the number's literal
 * text, for top-level members whose value is a number; a repeated key keeps its last value, as
 * JSON.parse does.
 */
export function topLevelNumberTokens(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  /** Index just past the string starting at i (text[i] === '"'). */
  const skipString = (from: number): number => {
    let j = from + 1;
    while (j < n) {
      const c = text[j];
      if (c === '\\') j += 2;
      else if (c === '"') return j + 1;
      else j++;
    }
    return n;
  };
  /** Index just past the value starting at i. */
  const skipValue = (from: number): number => {
    const c = text[from];
    if (c === '"') return skipString(from);
    if (c === '{' || c === '[') {
      let depth = 0;
      let j = from;
      while (j < n) {
        const d = text[j];
        if (d === '"') {
          j = skipString(j);
          continue;
        }
        if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') {
          depth--;
          if (depth === 0) return j + 1;
        }
        j++;
      }
      return n;
    }
    let j = from;
    while (j < n && text[j] !== ',' && text[j] !== '}' && text[j] !== ']' && text[j] !== ' ' && text[j] !== '\t' && text[j] !== '\n' && text[j] !== '\r') j++;
    return j;
  };

  ws();
  if (text[i] !== '{') return out;
  i++;
  for (;;) {
    ws();
    if (i >= n || text[i] === '}') break;
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] !== '"') break;
    const keyEnd = skipString(i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = keyEnd;
    ws();
    if (text[i] !== ':') break;
    i++;
    ws();
    const end = skipValue(i);
    const c = text[i];
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) out.set(key, text.slice(i, end));
    else out.delete(key);
    i = end;
  }
  return out;
}
