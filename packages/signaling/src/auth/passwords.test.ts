import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword, type ScryptParams } from './passwords.js';

// Cheap parameters keep the suite fast; the format and the code path are the same.
const FAST: ScryptParams = { N: 1024, r: 8, p: 1 };

describe('passwords', () => {
  it('hashPassword() encodes its parameters, a salt and the hash as scrypt$N$r$p$salt$hash', async () => {
    const encoded = await hashPassword('correct horse', FAST);
    const [scheme, N, r, p, salt, hash] = encoded.split('$');
    expect([scheme, N, r, p]).toEqual(['scrypt', '1024', '8', '1']);
    const expected = scryptSync('correct horse', Buffer.from(salt!, 'base64url'), 32, { N: 1024, r: 8, p: 1 });
    expect(Buffer.from(hash!, 'base64url').equals(expected)).toBe(true);
  });

  it('uses a fresh random salt for every hash', async () => {
    const a = await hashPassword('same password', FAST);
    const b = await hashPassword('same password', FAST);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same password', a)).toBe(true);
    expect(await verifyPassword('same password', b)).toBe(true);
  });

  it('verifyPassword() accepts the password and refuses any other', async () => {
    const encoded = await hashPassword('s3cret-pass', FAST);
    expect(await verifyPassword('s3cret-pass', encoded)).toBe(true);
    expect(await verifyPassword('s3cret-pasS', encoded)).toBe(false);
    expect(await verifyPassword('', encoded)).toBe(false);
  });

  it('verifyPassword() uses the parameters stored in the hash, not the defaults', async () => {
    const encoded = await hashPassword('old cost', { N: 16, r: 1, p: 1 });
    expect(await verifyPassword('old cost', encoded)).toBe(true);
  });

  it('verifyPassword() refuses malformed hashes and absurd parameters instead of throwing', async () => {
    const good = await hashPassword('pw-pw-pw', FAST);
    const parts = good.split('$');
    for (const bad of [
      '',
      'plain',
      parts.slice(0, 5).join('$'),
      ['bcrypt', ...parts.slice(1)].join('$'),
      ['scrypt', '1000', ...parts.slice(2)].join('$'),
      ['scrypt', String(2 ** 30), ...parts.slice(2)].join('$'),
      [...parts.slice(0, 5), ''].join('$'),
    ]) {
      expect(await verifyPassword('pw-pw-pw', bad)).toBe(false);
    }
  });

  it('hashPassword() rejects parameters that are not valid scrypt parameters', async () => {
    await expect(hashPassword('x', { N: 1000, r: 8, p: 1 })).rejects.toThrow(RangeError);
  });

  it('treats canonically equivalent Unicode passwords alike', async () => {
    const encoded = await hashPassword('caf\u00e9-latte', FAST);
    expect(await verifyPassword('cafe\u0301-latte', encoded)).toBe(true);
  });
});
