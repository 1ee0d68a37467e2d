import { randomBytes, randomUUID } from 'node:crypto';
import type { DeviceId, UserId, UserInfo } from '@roundtable/protocol';
import { SignalingError } from '../net/Handlers.js';
import type { Store, StoredSession } from '../store/Store.js';
import { StoreError } from '../store/StoreError.js';
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
}

export interface RegisterInput {
  username: string;
  password: string;
  /** Default: the username. */
  displayName?: string;
}

export interface LoginInput {
  username: string;
  password: string;
  /** A label for the device ("Firefox on laptop"). Default ''. */
  deviceName?: string;
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

  constructor(options: AuthServiceOptions) {
    this.store = options.store;
    this.tokenTtlMs = options.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS;
    this.scrypt = options.scrypt ?? DEFAULT_SCRYPT_PARAMS;
    this.now = options.now ?? Date.now;
    if (!(this.tokenTtlMs > 0)) throw new RangeError('tokenTtlMs must be positive');
  }

  /** Creates an account. A taken username rejects with CONFLICT. */
  async register(input: RegisterInput): Promise<UserInfo> {
    if (await this.store.userByName(input.username)) throw new SignalingError('CONFLICT', `the username '${input.username}' is taken`);
    const user: UserInfo = { id: randomUUID() as UserId, username: input.username, displayName: input.displayName ?? input.username };
    const passwordHash = await hashPassword(input.password, this.scrypt);
    try {
      await this.store.createUser({ ...user, passwordHash, createdAt: this.now() });
    } catch (error) {
      // Another registration of the same name won the race while we were hashing.
      if (error instanceof StoreError && error.code === 'conflict') throw new SignalingError('CONFLICT', `the username '${input.username}' is taken`);
      throw error;
    }
    return user;
  }

  /** Checks the password and opens a new device session. Wrong user or password: UNAUTHENTICATED, the same message for both. */
  async login(input: LoginInput): Promise<LoginResult> {
    const stored = await this.store.userByName(input.username);
    const valid = await verifyPassword(input.password, stored?.passwordHash ?? (await this.getDummyHash()));
    if (!stored || !valid) throw new SignalingError('UNAUTHENTICATED', BAD_CREDENTIALS);
    return this.openSession({ id: stored.id, username: stored.username, displayName: stored.displayName }, input.deviceName);
  }

  /** A new device session (token) for a user whose identity is already established (e.g. just registered). */
  async openSession(user: UserInfo, deviceName = ''): Promise<LoginResult> {
    const token = newToken();
    const createdAt = this.now();
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
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'), this.scrypt);
    return this.dummyHash;
  }
}
