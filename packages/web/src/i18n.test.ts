import { describe, expect, it } from 'vitest';
import { TABLES } from './i18n.js';
import { latinWords } from './i18nWords.js';

describe('the message tables', () => {
  it('have the same keys in English and Chinese, none empty', () => {
    expect(Object.keys(TABLES.zh).sort()).toEqual(Object.keys(TABLES.en).sort());
    for (const [locale, table] of Object.entries(TABLES)) for (const [key, text] of Object.entries(table)) expect(text.trim(), `${locale}.${key}`).not.toBe('');
  });

  it('the Chinese table has no English words (placeholders and REC aside)', () => {
    const english = Object.entries(TABLES.zh).flatMap(([key, text]) => latinWords(text).map((w) => `${key}: ${w}`));
    expect(english).toEqual([]);
  });

  it('every placeholder of a Chinese message is one the English message fills too', () => {
    for (const [key, zh] of Object.entries(TABLES.zh)) {
      const en = TABLES.en[key as keyof typeof TABLES.en];
      for (const name of zh.match(/\{\w+\}/g) ?? []) expect(en, `${key} ${name}`).toContain(name);
    }
  });
});
