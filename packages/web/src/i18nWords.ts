/** For the tests of the Chinese UI: which Latin words may appear in it. Not part of the bundle. */

/**
 * Latin words that may stand in the Chinese UI: the recording mark users know from
 * cameras, and the language switch, which names the other language in that language.
 */
export const LATIN_ALLOWED_IN_ZH: ReadonlySet<string> = new Set(['REC', 'English']);

/** Latin words of two letters or more in `text`, placeholders and the allowed words left out. */
export function latinWords(text: string): string[] {
  return (text.replace(/\{\w+\}/g, '').match(/[A-Za-z]{2,}/g) ?? []).filter((w) => !LATIN_ALLOWED_IN_ZH.has(w));
}
