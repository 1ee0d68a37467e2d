import { randomBytes, randomUUID } from 'node:crypto';
import type { DeviceId, UserId, UserInfo } from '@roundtable/protocol';
import { SignalingError } from '../net/Handlers.js';
import type { Store, StoredSession } from '../store/Store.js';
import { StoreError } from '../store/StoreError.js';
import { localAttemptCounters, type AttemptCounter, type AttemptCounterFactory } from './AttemptCounter.js';
import type { AttemptLimits } from './AttemptLimiter.js';
import { HashQueue, type HashQueueLimits } from './HashQueue.js';
import { DEFAULT_SCRYPT_PARAMS, hashPassword, verifyPassword, type ScryptParams } from './passwords.js';
import { hashToken, newToken } from './tokens.js';

export interface AuthServiceOptions {
  store: Store;
  /** How long a login (a device's token) stays valid. Default 30 days. */
  tokenTtlMs?: number;
  /** scrypt cost of new password hashes. Default `DEFAULT_SCRYPT_PARAMS` (N 2^15, r 8, p 1). */
  scrypt?: ScryptParams;
  /** Clock, in ms. Default `Date.now`. */
  now?: () => number;
  /** Login and registration limits. Defaults: `DEFAULT_LOGIN_LIMITS`. */
  limits?: LoginLimits;
  /** Device logins (unexpired tokens) one account may hold; one more login is refused with QUOTA_EXCEEDED. Default `DEFAULT_MAX_DEVICES_PER_USER` (50). */
  maxDevicesPerUser?: number;
  /** Where the login and registration counts live. Default: in this process (`localAttemptCounters`); signaling nodes on Redis share them there. */
  attemptCounters?: AttemptCounterFactory;
}

/**
 * Default of `maxDevicesPerUser`. Above a day's logins for the token lifetime (30 days),
 * so someone who never signs out (a private window a day) is not locked out, while one
 * account cannot pile up sessions without end.
 */
export const DEFAULT_MAX_DEVICES_PER_USER = 50;

/** How many logins and registrations are let through, per account and per address. */
export interface LoginLimits {
  /** Failed logins per account (by username, known or not). Default 10, decaying by one a minute; lock 30 s doubling to 15 min. */
  account?: Partial<AttemptLimits>;
  /** Failed logins per client address. Default 30, decaying by one every 20 s; lock 30 s doubling to 15 min. */
  address?: Partial<AttemptLimits>;
  /** New accounts per client address and hour (attempts on a taken name do not count). Default 30. */
  registrationsPerHour?: number;
  /** The password-hashing queue. Default `DEFAULT_HASH_QUEUE` (2 at once, 64 waiting, 16 per address). */
  hashing?: HashQueueLimits;
}

export const DEFAULT_LOGIN_LIMITS = {
  account: { maxFailures: 10, decayMs: 60_000, lockMs: 30_000, maxLockMs: 15 * 60_000 },
  address: { maxFailures: 30, decayMs: 20_000, lockMs: 30_000, maxLockMs: 15 * 60_000 },
  registrationsPerHour: 30,
} as const;

export interface RegisterInput {
  username: string;
  password: string;
  /** Default: the username. */
  displayName?: string;
  /** The client's address, for the per-address limits. Default: one shared 'unknown' address. */
  address?: string | undefined;
}

export interface LoginInput {
  username: string;
  password: string;
  /** A label for the device ("Firefox on laptop"). Default ''. */
  deviceName?: string;
  /** The client's address, for the per-address limits. Default: one shared 'unknown' address. */
  address?: string | undefined;
}

/** What a login (or a registration) hands the client: the bearer token is shown this once and never stored. */
export interface LoginResult {
  userId: UserId;
  token: string;
  deviceId: DeviceId;
  /** When the token stops working (ms since the epoch). */
  expiresAt: number;
  user: UserInfo;
}

export const DEFAULT_TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;

const BAD_CREDENTIALS = 'invalid username or password';

/**
 * Accounts and device logins. Each login is one device with its own token; the store
 * keeps only the token's SHA-256. Failures are `SignalingError`s with wire codes.
 */
export class AuthService {
  private readonly store: Store;
  private readonly tokenTtlMs: number;
  private readonly scrypt: ScryptParams;
  private readonly now: () => number;
  // Checked against when the user does not exist, so a login costs the same either way.
  private dummyHash: Promise<string> | undefined;
  private readonly accountFailures: AttemptCounter;
  private readonly addressFailures: AttemptCounter;
  private readonly registrations: AttemptCounter;
  private readonly hashing: HashQueue;
  private readonly maxDevices: number;

  constructor(options: AuthServiceOptions) {
    this.store = options.store;
    this.tokenTtlMs = options.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS;
    this.scrypt = options.scrypt ?? DEFAULT_SCRYPT_PARAMS;
    this.now = options.now ?? Date.now;
    if (!(this.tokenTtlMs > 0)) throw new RangeError('tokenTtlMs must be positive');
    const limits = options.limits ?? {};
    const counters = options.attemptCounters ?? localAttemptCounters;
    this.accountFailures = counters('account', { ...DEFAULT_LOGIN_LIMITS.account, ...limits.account }, this.now);
    this.addressFailures = counters('address', { ...DEFAULT_LOGIN_LIMITS.address, ...limits.address }, this.now);
    const perHour = limits.registrationsPerHour ?? DEFAULT_LOGIN_LIMITS.registrationsPerHour;
    if (!(perHour >= 1)) throw new RangeError('registrationsPerHour must be at least 1');
    // A bucket of `perHour` registrations that refills one every hour / perHour.
    const refillMs = 3_600_000 / perHour;
    this.registrations = counters('registration', { maxFailures: perHour, decayMs: refillMs, lockMs: refillMs, maxLockMs: refillMs }, this.now);
    this.hashing = new HashQueue(limits.hashing);
    this.maxDevices = options.maxDevicesPerUser ?? DEFAULT_MAX_DEVICES_PER_USER;
    if (!(this.maxDevices >= 1)) throw new RangeError('maxDevicesPerUser must be at least 1');
  }

  /** Password hashes running and waiting (for metrics and tests). */
  get hashQueue(): { active: number; queued: number } {
    return { active: this.hashing.active, queued: this.hashing.queued };
  }

  /**
   * Creates an account. A taken username rejects with CONFLICT; more than
   * `registrationsPerHour` attempts from one address with TOO_MANY_ATTEMPTS.
   */
  async register(input: RegisterInput): Promise<UserInfo> {
    const address = addressKey(input.address);
    const refusal = await this.registrations.refusal(address);
    if (refusal) throw new SignalingError('TOO_MANY_ATTEMPTS', `too many registrations from this address; try again in ${seconds(refusal.retryAfterMs)} s`, refusal.retryAfterMs);
    if (await this.store.userByName(input.username)) throw new SignalingError('CONFLICT', `the username '${input.username}' is taken`);
    // Counted once it costs a hash: a taken name is answered without one.
    await this.registrations.record(address);
    const user: UserInfo = { id: randomUUID() as UserId, username: input.username, displayName: input.displayName ?? input.username };
    const passwordHash = await this.hashing.run(address, () => hashPassword(input.password, this.scrypt));
    try {
      await this.store.createUser({ ...user, passwordHash, createdAt: this.now() });
    } catch (error) {
      // Another registration of the same name won the race while we were hashing.
      if (error instanceof StoreError && error.code === 'conflict') throw new SignalingError('CONFLICT', `the username '${input.username}' is taken`);
      throw error;
    }
    return user;
  }

  /**
   * Checks the password and opens a new device session. Wrong user or password:
   * UNAUTHENTICATED, the same message and the same work (a hash) for both. Too many
   * failures for the username or from the address: TOO_MANY_ATTEMPTS with
   * `retryAfterMs`, without checking the password; a full hashing queue: OVERLOADED.
   */
  async login(input: LoginInput): Promise<LoginResult> {
    const account = input.username.toLowerCase();
    const address = addressKey(input.address);
    const refused = (r: { retryAfterMs: number }): SignalingError => new SignalingError('TOO_MANY_ATTEMPTS', `too many failed logins; try again in ${seconds(r.retryAfterMs)} s`, r.retryAfterMs);
    const byAccount = await this.accountFailures.tryBegin(account);
    if (byAccount) throw refused(byAccount);
    const byAddress = await this.addressFailures.tryBegin(address);
    if (byAddress) {
      await this.accountFailures.end(account, 'none');
      throw refused(byAddress);
    }
    let outcome: 'failure' | 'success' | 'none' = 'none';
    try {
      const stored = await this.store.userByName(input.username);
      const encoded = stored?.passwordHash ?? (await this.getDummyHash());
      const valid = await this.hashing.run(address, () => verifyPassword(input.password, encoded));
      outcome = stored && valid ? 'success' : 'failure';
      if (!stored || !valid) throw new SignalingError('UNAUTHENTICATED', BAD_CREDENTIALS);
      return await this.openSession({ id: stored.id, username: stored.username, displayName: stored.displayName }, input.deviceName);
    } finally {
      await this.accountFailures.end(account, outcome);
      // A success does not clear the address: its owner may be trying other accounts too.
      await this.addressFailures.end(address, outcome === 'failure' ? 'failure' : 'none');
    }
  }

  /**
   * A new device session (token) for a user whose identity is already established (e.g.
   * just registered). An account holding `maxDevicesPerUser` unexpired sessions is
   * refused with QUOTA_EXCEEDED (checked after the password, so only the owner learns it).
   */
  async openSession(user: UserInfo, deviceName = ''): Promise<LoginResult> {
    const createdAt = this.now();
    const devices = await this.store.countSessions(user.id, createdAt);
    if (devices >= this.maxDevices) {
      throw new SignalingError('QUOTA_EXCEEDED', `this account is signed in on ${devices} devices, the most at once (${this.maxDevices}); sign out on one, or wait for its login to expire`);
    }
    const token = newToken();
    const session: StoredSession = {
      tokenHash: hashToken(token),
      userId: user.id,
      deviceId: randomUUID() as DeviceId,
      deviceName,
      createdAt,
      expiresAt: createdAt + this.tokenTtlMs,
    };
    await this.store.createSession(session);
    return { userId: user.id, token, deviceId: session.deviceId, expiresAt: session.expiresAt, user };
  }

  /** The session of a token. Unknown or expired tokens reject with UNAUTHENTICATED (an expired one is deleted). */
  async authenticate(token: string): Promise<StoredSession> {
    const tokenHash = hashToken(token);
    const session = await this.store.sessionByTokenHash(tokenHash);
    if (!session) throw new SignalingError('UNAUTHENTICATED', 'unknown token; log in again');
    if (session.expiresAt <= this.now()) {
      await this.store.deleteSession(tokenHash);
      throw new SignalingError('UNAUTHENTICATED', 'the token has expired; log in again');
    }
    return session;
  }

  /** Whether a session authenticated earlier has expired by now. */
  isExpired(session: StoredSession): boolean {
    return session.expiresAt <= this.now();
  }

  /** Ends the device session of a token. Idempotent. */
  async logout(token: string): Promise<void> {
    await this.endSession(hashToken(token));
  }

  /** Ends a device session by its token hash (what a server holding a `StoredSession` has). Idempotent. */
  async endSession(tokenHash: string): Promise<void> {
    await this.store.deleteSession(tokenHash);
  }

  /** The public profile of a user, or NOT_FOUND. */
  async user(userId: UserId): Promise<UserInfo> {
    const stored = await this.store.userById(userId);
    if (!stored) throw new SignalingError('NOT_FOUND', `no user ${userId}`);
    return { id: stored.id, username: stored.username, displayName: stored.displayName };
  }

  private getDummyHash(): Promise<string> {
    // Made outside the queue once; every later unknown-user login verifies against it in the queue.
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'), this.scrypt);
    return this.dummyHash;
  }
}

function addressKey(address: string | undefined): string {
  // IPv4 clients of a dual-stack socket show as ::ffff:a.b.c.d.
  return address ? address.replace(/^::ffff:/, '') : 'unknown';
}

function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}
