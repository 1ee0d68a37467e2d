import { createHmac } from 'node:crypto';
import type { UserId } from '@roundtable/protocol';

export interface IceServersOptions {
  /** STUN and TURN URLs handed to clients (`stun:`, `stuns:`, `turn:`, `turns:`). Default: none. */
  urls?: readonly string[];
  /** The secret shared with the TURN server (coturn's `static-auth-secret`). Required when a TURN URL is configured. */
  sharedSecret?: string;
  /** How long TURN credentials stay valid. Default 24 h. */
  ttlMs?: number;
  /** Clock, in ms. Default `Date.now`. */
  now?: () => number;
}

/** One entry of `RTCConfiguration.iceServers`. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface IceServersResult {
  iceServers: IceServer[];
  /** When the TURN credentials stop working (ms since the epoch); null without TURN. Ask again before. */
  expiresAt: number | null;
}

export const DEFAULT_TURN_TTL_MS = 24 * 3600 * 1000;

const SCHEME = /^(stuns?|turns?):/i;

/**
 * The ICE servers a client should use. TURN entries carry time-limited credentials made
 * the TURN REST way (draft-uberti-behave-turn-rest, what coturn's `use-auth-secret`
 * checks): username `<expiry unix seconds>:<user id>`, credential
 * base64(HMAC-SHA1(secret, username)). Nothing long-lived reaches the client.
 */
export class IceServers {
  private readonly stun: string[];
  private readonly turn: string[];
  private readonly sharedSecret: string | undefined;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: IceServersOptions = {}) {
    const urls = options.urls ?? [];
    for (const url of urls) if (!SCHEME.test(url)) throw new Error(`not a STUN or TURN URL: '${url}'`);
    this.stun = urls.filter((url) => /^stuns?:/i.test(url));
    this.turn = urls.filter((url) => /^turns?:/i.test(url));
    this.sharedSecret = options.sharedSecret;
    this.ttlMs = options.ttlMs ?? DEFAULT_TURN_TTL_MS;
    this.now = options.now ?? Date.now;
    if (this.turn.length > 0 && !this.sharedSecret) throw new Error('TURN URLs need a sharedSecret to sign credentials with');
    if (!(this.ttlMs >= 1000)) throw new RangeError('ttlMs must be at least one second');
  }

  /** The list for one user, with fresh TURN credentials. */
  forUser(userId: UserId): IceServersResult {
    const iceServers: IceServer[] = [];
    if (this.stun.length > 0) iceServers.push({ urls: [...this.stun] });
    if (this.turn.length === 0 || !this.sharedSecret) return { iceServers, expiresAt: null };
    const expiry = Math.floor((this.now() + this.ttlMs) / 1000);
    iceServers.push({ urls: [...this.turn], ...turnCredentials(this.sharedSecret, userId, expiry) });
    return { iceServers, expiresAt: expiry * 1000 };
  }
}

/** TURN REST credentials valid until `expiryUnixSeconds`. */
export function turnCredentials(sharedSecret: string, userId: string, expiryUnixSeconds: number): { username: string; credential: string } {
  const username = `${expiryUnixSeconds}:${userId}`;
  return { username, credential: createHmac('sha1', sharedSecret).update(username).digest('base64') };
}
