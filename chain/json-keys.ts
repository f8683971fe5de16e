/**
 * Duplicate keys in JSON text. `JSON.parse` keeps the last of two equal keys in an object without a
 * word, so a hand-edited genesis.json or config.json could silently lose a value; files people edit
 * are checked with this after they parse. Only call it on text JSON.parse accepted: it is a scanner
 * for well-formed JSON (strings, nesting, separators), not a validator.
 */

/** The path (keys and array indexes) of every key that repeats in its object, in text order. */
export function duplicateKeys(text: string): (string | number)[][] {
  interface Frame {
    kind: 'object' | 'array';
    keys: Set<string>;
    /** Object: the key being read or last read; array: the index of the current element. */
    at: string | number;
    expectKey: boolean;
  }
  const stack: Frame[] = [];
  const out: (string | number)[][] = [];
  const path = () => stack.map((f) => f.at);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top !== undefined && top.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        top.at = key;
        if (top.keys.has(key)) out.push(path());
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      stack.push({ kind: c === '{' ? 'object' : 'array', keys: new Set(), at: c === '{' ? '' : 0, expectKey: c === '{' });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1]!;
      if (top.kind === 'object') top.expectKey = true;
      else top.at = (top.at as number) + 1;
    }
  }
  return out;
}
