import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/SqliteStore.js';
import { AuthService, DEFAULT_TOKEN_TTL_MS } from './AuthService.js';
import { hashToken } from './tokens.js';

const FAST = { N: 1024, r: 8, p: 1 };

describe('AuthService', () => {
  let store: SqliteStore;
  let clock: number;
  let auth: AuthService;

  beforeEach(() => {
    store = new SqliteStore({ path: ':memory:' });
    clock = 1_000_000;
    auth = new AuthService({ store, scrypt: FAST, now: () => clock, tokenTtlMs: 60_000 });
  });
  afterEach(() => store.close());

  it('register() creates a user whose display name defaults to the username', async () => {
    const alice = await auth.register({ username: 'alice', password: 'password-1' });
    expect(alice).toEqual({ id: expect.any(String), username: 'alice', displayName: 'alice' });
    const bob = await auth.register({ username: 'bob', password: 'password-2', displayName: 'Bob B.' });
    expect(bob.displayName).toBe('Bob B.');
    expect((await store.userByName('alice'))?.passwordHash).toMatch(/^scrypt\$1024\$8\$1\$/);
  });

  it('register() with a taken username rejects with CONFLICT, also when two race', async () => {
    await auth.register({ username: 'alice', password: 'password-1' });
    await expect(auth.register({ username: 'alice', password: 'password-2' })).rejects.toMatchObject({ code: 'CONFLICT' });
    const race = await Promise.allSettled([
      auth.register({ username: 'carol', password: 'password-1' }),
      auth.register({ username: 'carol', password: 'password-2' }),
    ]);
    expect(race.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(race.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'CONFLICT' } });
  });

  it('login() returns a 32-byte base64url token and stores only its SHA-256', async () => {
    const alice = await auth.register({ username: 'alice', password: 'password-1' });
    const login = await auth.login({ username: 'alice', password: 'password-1', deviceName: 'laptop' });
    expect(login.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(login.token, 'base64url')).toHaveLength(32);
    expect(login.user).toEqual(alice);
    expect(login.userId).toBe(alice.id);
    expect(login.expiresAt).toBe(clock + 60_000);
    const session = await store.sessionByTokenHash(hashToken(login.token));
    expect(session).toMatchObject({ userId: alice.id, deviceId: login.deviceId, deviceName: 'laptop' });
    expect(await store.sessionByTokenHash(login.token)).toBeUndefined();
  });

  it('each login is a new device with its own token', async () => {
    await auth.register({ username: 'alice', password: 'password-1' });
    const a = await auth.login({ username: 'alice', password: 'password-1' });
    const b = await auth.login({ username: 'alice', password: 'password-1' });
    expect(a.token).not.toBe(b.token);
    expect(a.deviceId).not.toBe(b.deviceId);
    expect((await auth.authenticate(a.token)).deviceId).toBe(a.deviceId);
    expect((await auth.authenticate(b.token)).deviceId).toBe(b.deviceId);
  });

  it('login() with a wrong password or an unknown user rejects with UNAUTHENTICATED and the same message', async () => {
    await auth.register({ username: 'alice', password: 'password-1' });
    const wrongPassword = await auth.login({ username: 'alice', password: 'password-2' }).catch((e: unknown) => e);
    const unknownUser = await auth.login({ username: 'nobody', password: 'password-1' }).catch((e: unknown) => e);
    expect(wrongPassword).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(unknownUser).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((wrongPassword as Error).message).toBe((unknownUser as Error).message);
  });

  it('authenticate() refuses unknown tokens, and expired ones (deleting them)', async () => {
    await auth.register({ username: 'alice', password: 'password-1' });
    const { token } = await auth.login({ username: 'alice', password: 'password-1' });
    await expect(auth.authenticate('not-a-token')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    clock += 59_999;
    await expect(auth.authenticate(token)).resolves.toBeDefined();
    clock += 1;
    await expect(auth.authenticate(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/expired/) });
    expect(await store.sessionByTokenHash(hashToken(token))).toBeUndefined();
  });

  it('logout() deletes that device session only, and is idempotent', async () => {
    await auth.register({ username: 'alice', password: 'password-1' });
    const a = await auth.login({ username: 'alice', password: 'password-1' });
    const b = await auth.login({ username: 'alice', password: 'password-1' });
    await auth.logout(a.token);
    await auth.logout(a.token);
    await expect(auth.authenticate(a.token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(auth.authenticate(b.token)).resolves.toBeDefined();
  });

  it('tokens last 30 days by default', async () => {
    const defaults = new AuthService({ store, scrypt: FAST, now: () => clock });
    await defaults.register({ username: 'alice', password: 'password-1' });
    const login = await defaults.login({ username: 'alice', password: 'password-1' });
    expect(login.expiresAt - clock).toBe(DEFAULT_TOKEN_TTL_MS);
    expect(DEFAULT_TOKEN_TTL_MS).toBe(30 * 24 * 3600 * 1000);
  });

  it('user() returns the public profile, or NOT_FOUND', async () => {
    const alice = await auth.register({ username: 'alice', password: 'password-1' });
    expect(await auth.user(alice.id)).toEqual(alice);
    await expect(auth.user('ghost' as typeof alice.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
