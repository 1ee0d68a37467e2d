import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/SqliteStore.js';
import { AuthService } from './AuthService.js';

const FAST = { N: 1024, r: 8, p: 1 };
const ACCOUNT = { maxFailures: 3, decayMs: 60_000, lockMs: 30_000, maxLockMs: 120_000 };
const ADDRESS = { maxFailures: 5, decayMs: 60_000, lockMs: 30_000, maxLockMs: 120_000 };

describe('AuthService login and registration limits', () => {
  let store: SqliteStore;
  let clock: number;
  let auth: AuthService;

  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    clock = 1_000_000;
    auth = new AuthService({ store, scrypt: FAST, now: () => clock, limits: { account: ACCOUNT, address: ADDRESS, registrationsPerHour: 3 } });
    await auth.register({ username: 'alice', password: 'password-1', address: '10.0.0.99' });
  });
  afterEach(() => store.close());

  const login = (username: string, password: string, address: string) => auth.login({ username, password, address });

  it('after maxFailures wrong passwords the account answers TOO_MANY_ATTEMPTS with retryAfterMs, even to the right password, from any address', async () => {
    for (let i = 0; i < 3; i++) await expect(login('alice', 'wrong-password', `10.0.0.${i}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(login('alice', 'password-1', '10.0.0.50')).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS', retryAfterMs: 30_000 });
    // Another account is not affected.
    await auth.register({ username: 'bob', password: 'password-2', address: '10.0.0.99' });
    await expect(login('bob', 'password-2', '10.0.0.0')).resolves.toMatchObject({ user: { username: 'bob' } });
    clock += 30_000;
    await expect(login('alice', 'password-1', '10.0.0.50')).resolves.toMatchObject({ user: { username: 'alice' } });
  });

  it('an unknown user gets the same answer as a wrong password, and counts against its name the same way', async () => {
    const wrong = await login('alice', 'wrong-password', '10.0.0.1').catch((e: unknown) => e);
    const unknown = await login('nobody', 'wrong-password', '10.0.0.1').catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 'UNAUTHENTICATED', message: (wrong as Error).message });
    for (let i = 0; i < 2; i++) await login('nobody', 'x-password', '10.0.0.2').catch(() => undefined);
    await expect(login('nobody', 'x-password', '10.0.0.3')).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
  });

  it('failures from one address lock that address for every account; other addresses still log in', async () => {
    for (let i = 0; i < 5; i++) await login(`user${i}`, 'wrong-password', '10.0.0.7').catch(() => undefined);
    await expect(login('alice', 'password-1', '10.0.0.7')).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS', retryAfterMs: 30_000 });
    await expect(login('alice', 'password-1', '10.0.0.8')).resolves.toMatchObject({ user: { username: 'alice' } });
    // IPv4 clients of a dual-stack socket are the same address.
    await expect(login('alice', 'password-1', '::ffff:10.0.0.7')).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
  });

  it('the back-off grows with each failure after a lock-out and decays with quiet time', async () => {
    for (let i = 0; i < 3; i++) await login('alice', 'wrong-password', '10.0.0.1').catch(() => undefined);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const refused = (await login('alice', 'wrong-password', '10.0.0.1').catch((e: unknown) => e)) as { code: string; retryAfterMs: number };
      expect(refused.code).toBe('TOO_MANY_ATTEMPTS');
      waits.push(refused.retryAfterMs);
      clock += refused.retryAfterMs;
      await expect(login('alice', 'wrong-password', '10.0.0.1')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    expect(waits).toEqual([30_000, 60_000, 120_000]);
    // Quiet for the lock plus two decay steps: the failures are forgotten, and so is the back-off.
    clock += 120_000 + 2 * 60_000;
    for (let i = 0; i < 3; i++) await expect(login('alice', 'wrong-password', '10.0.0.1')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(login('alice', 'password-1', '10.0.0.1')).rejects.toMatchObject({ code: 'TOO_MANY_ATTEMPTS', retryAfterMs: 30_000 });
    clock += 30_000;
    await expect(login('alice', 'password-1', '10.0.0.1')).resolves.toMatchObject({ user: { username: 'alice' } });
  });

  it('registrations are limited per address and hour (taken names do not count); the allowance refills', async () => {
    // 10.0.0.99 registered alice in beforeEach: two more are allowed this hour.
    await auth.register({ username: 'u1', password: 'password-1', address: '10.0.0.99' });
    await expect(auth.register({ username: 'alice', password: 'password-1', address: '10.0.0.99' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await auth.register({ username: 'u2', password: 'password-1', address: '10.0.0.99' });
    const refused = (await auth.register({ username: 'u3', password: 'password-1', address: '10.0.0.99' }).catch((e: unknown) => e)) as { code: string; retryAfterMs: number };
    expect(refused).toMatchObject({ code: 'TOO_MANY_ATTEMPTS', retryAfterMs: 20 * 60_000 });
    expect(await store.userByName('u3')).toBeUndefined();
    await expect(auth.register({ username: 'u3', password: 'password-1', address: '10.0.0.100' })).resolves.toMatchObject({ username: 'u3' });
    clock += 20 * 60_000;
    await expect(auth.register({ username: 'u4', password: 'password-1', address: '10.0.0.99' })).resolves.toMatchObject({ username: 'u4' });
  });
});
