import { ClientError } from '@roundtable/client';
import { afterEach, describe, expect, it } from 'vitest';
import { locale } from '../i18n.js';
import { latinWords } from '../i18nWords.js';
import { errorText } from './errors.js';

/** What the in-call buttons and the contact list can fail with. */
const failures: Array<[string, unknown]> = [
  ['record refused', new ClientError('FORBIDDEN', 'only a participant may record', 'call.record')],
  ['control after the end', new ClientError('INVALID_STATE', 'call is not active', 'call.state')],
  ['no screen sharing', new ClientError('MEDIA', 'screen sharing is not available here (no getDisplayMedia)')],
  ['screen pick cancelled', new DOMException('Permission denied', 'NotAllowedError')],
  ['invite while the link is down', new ClientError('DISCONNECTED', 'not connected', 'call.invite')],
  ['unknown contact', new ClientError('NOT_FOUND', 'no such user', 'contacts.add')],
  ['contact limit', new ClientError('QUOTA_EXCEEDED', 'at most 500 contacts', 'contacts.add')],
  ['a plain Error', new Error('boom')],
];

describe('errorText', () => {
  const before = locale.value;
  afterEach(() => (locale.value = before));

  it('never shows the SDK raw text ("type: CODE: …", "Error: …") in English', () => {
    locale.value = 'en';
    for (const [what, error] of failures) {
      const text = errorText(error);
      expect(text, what).not.toBe(String(error));
      expect(text, what).not.toMatch(/^Error:|[A-Z_]{5,}: |\b[a-z]+\.[a-z]+: /);
    }
  });

  it('is all Chinese in the Chinese UI: no server or browser words', () => {
    locale.value = 'zh';
    for (const [what, error] of failures) expect(latinWords(errorText(error)), what).toEqual([]);
  });
});
