/** Quotes words for a POSIX shell, so that a printed command can be pasted back as it was run. */

export function shellQuote(words: readonly string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/u.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)).join(' ');
}
