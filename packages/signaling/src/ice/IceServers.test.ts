import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { UserId } from '@roundtable/protocol';
import { IceServers, turnCredentials } from './IceServers.js';

// HMAC (RFC 2104) written out over plain SHA-1, so the test does not trust createHmac.
function hmacSha1(key: string, message: string): Buffer {
  const block = 64;
  let k = Buffer.from(key, 'utf8');
  if (k.length > block) k = createHash('sha1').update(k).digest();
  k = Buffer.concat([k, Buffer.alloc(block - k.length)]);
  const inner = createHash('sha1').update(Buffer.from(k.map((b) => b ^ 0x36))).update(message, 'utf8').digest();
  return createHash('sha1').update(Buffer.from(k.map((b) => b ^ 0x5c))).update(inner).digest();
}

const alice = 'alice-id' as UserId;

describe('IceServers', () => {
  it('the reference HMAC of this test matches the published HMAC-SHA1 vector', () => {
    expect(hmacSha1('key', 'The quick brown fox jumps over the lazy dog').toString('hex')).toBe('de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9');
  });

  it('turnCredentials() signs "<expiry>:<user>" with HMAC-SHA1 of the shared secret, base64', () => {
    const { username, credential } = turnCredentials('north-secret', 'alice-id', 1_700_086_400);
    expect(username).toBe('1700086400:alice-id');
    expect(credential).toBe(hmacSha1('north-secret', '1700086400:alice-id').toString('base64'));
  });

  it('forUser() lists STUN plainly and TURN with credentials expiring after the ttl (default 24 h)', () => {
    const now = 1_700_000_000_000;
    const ice = new IceServers({ urls: ['stun:stun.example.org:3478', 'turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'], sharedSecret: 's3', now: () => now });
    const result = ice.forUser(alice);
    const expiry = 1_700_000_000 + 86_400;
    expect(result).toEqual({
      iceServers: [
        { urls: ['stun:stun.example.org:3478'] },
        {
          urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'],
          username: `${expiry}:alice-id`,
          credential: hmacSha1('s3', `${expiry}:alice-id`).toString('base64'),
        },
      ],
      expiresAt: expiry * 1000,
    });
  });

  it('honours the ttl option and rounds the expiry down to whole seconds', () => {
    const ice = new IceServers({ urls: ['turn:t.example.org'], sharedSecret: 'x', ttlMs: 60_500, now: () => 1_000_700 });
    expect(ice.forUser(alice).iceServers[0]!.username).toBe('1061:alice-id');
  });

  it('with only STUN there are no credentials and no expiry; with nothing configured the list is empty', () => {
    expect(new IceServers({ urls: ['stun:s.example.org'] }).forUser(alice)).toEqual({ iceServers: [{ urls: ['stun:s.example.org'] }], expiresAt: null });
    expect(new IceServers().forUser(alice)).toEqual({ iceServers: [], expiresAt: null });
  });

  it('refuses TURN without a shared secret, and URLs that are not STUN or TURN', () => {
    expect(() => new IceServers({ urls: ['turn:t.example.org'] })).toThrow(/sharedSecret/);
    expect(() => new IceServers({ urls: ['http://t.example.org'] })).toThrow(/not a STUN or TURN URL/);
  });
});
