import { randomBytes } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { MuxAddress } from '../net/UdpMux.js';
import { BINDING_ERROR, BINDING_REQUEST, BINDING_SUCCESS, fingerprintValid, integrityValid, StunAttr, writeStun, type StunMessage } from './stun.js';

/** A remote candidate the checks are sent to. */
export interface RemoteCandidate {
  ip: string;
  port: number;
  /** RFC 8445 §5.1.2 priority: higher is tried first. */
  priority: number;
}

/**
 * What the checks ask of their transport. `local` is the index of our address (of the
 * `localAddresses` the checks were made with) a check goes from.
 */
export interface IceChecksLink {
  /** Sends a check (the mux remembers its transaction, so the answer finds us). */
  send(data: Buffer, to: MuxAddress, local: number): void;
  /** A check from our `local` address to `to` was answered and verified: the pair is usable (and nominated). */
  succeeded(to: MuxAddress, local: number): void;
  /** No pair answered within the timeout. */
  failed(): void;
}

export interface IceChecksOptions {
  /** Pace of the checks (RFC 8445 Ta). Default 50 ms. */
  paceMs?: number;
  /** A pair's check is sent again after this long without an answer. Default 250 ms. */
  retransmitMs?: number;
  /** With no pair answered by then, ICE fails. Default 10000 ms. */
  timeoutMs?: number;
  /** Once connected, a consent check (RFC 7675) on the selected pair this often (±20%). Default 5000 ms. */
  consentIntervalMs?: number;
}

interface Pair {
  local: number;
  remote: RemoteCandidate;
  lastSentAt: number;
}

/** A check's pair: from our `local` address to `to`. */
interface Path {
  to: MuxAddress;
  local: number;
}

/** A peer-reflexive candidate's priority (RFC 8445 §5.1.2.1: type preference 110), sent in PRIORITY. */
const PRFLX_PRIORITY = ((110 << 24) | (65535 << 8) | 255) >>> 0;

/**
 * The checks of a full ICE agent in the controlling role (RFC 8445 §7.2.4), for a
 * transport whose peer does not check it: an ICE-lite peer (another Roundtable
 * transport, a Kurento-style server), or any peer when our side offered with full ICE.
 * One check per pace interval over the pairs (each of our addresses with each remote
 * candidate of its family) by remote priority, then by our order of addresses, each with
 * USE-CANDIDATE (aggressive nomination, which a lite peer takes as the selection); the
 * first verified answer selects its pair and the checks stop. Then a consent check on
 * that pair every few seconds: its answers are the transport's consent (RFC 7675).
 * An answer counts only when its transaction is ours, it comes from the address we
 * asked to the address we asked from, and its FINGERPRINT and MESSAGE-INTEGRITY (the peer's password) check.
 */
export class IceChecks {
  private readonly pairs: Pair[] = [];
  private readonly pending = new Map<string, Path>();
  private readonly tieBreaker = randomBytes(8);
  private readonly paceMs: number;
  private readonly retransmitMs: number;
  private readonly timeoutMs: number;
  private readonly consentIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private selected: Path | undefined;
  private closed = false;
  private gaveUp = false;
  /** Answers refused: not ours, from elsewhere, or failing FINGERPRINT / MESSAGE-INTEGRITY. */
  refused = 0;
  checksSent = 0;

  constructor(
    private readonly localUfrag: string,
    private readonly remote: { ufrag: string; pwd: string },
    /** Our addresses (the transport's shared sockets), best first: a remote candidate pairs with those of its family. */
    private readonly localAddresses: readonly string[],
    private readonly link: IceChecksLink,
    options: IceChecksOptions = {},
  ) {
    this.paceMs = options.paceMs ?? 50;
    this.retransmitMs = options.retransmitMs ?? 250;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.consentIntervalMs = options.consentIntervalMs ?? 5000;
  }

  /** The remote candidates paired so far. */
  get candidateCount(): number {
    return this.pairs.length;
  }

  /** Pairs a remote candidate (from the description or trickled) with our addresses of its family; duplicates are ignored. */
  addCandidate(candidate: RemoteCandidate): void {
    if (this.closed || this.pairs.some((p) => p.remote.ip === candidate.ip && p.remote.port === candidate.port)) return;
    this.localAddresses.forEach((address, local) => {
      if (isIPv4(address) === isIPv4(candidate.ip)) this.pairs.push({ local, remote: candidate, lastSentAt: -Infinity });
    });
    this.pairs.sort((a, b) => b.remote.priority - a.remote.priority || a.local - b.local);
    if (this.startedAt > 0 && !this.selected && !this.timer && !this.gaveUp) this.schedule(0);
  }

  /** Starts checking (again, after a failure: a new timeout). */
  start(): void {
    if (this.closed) return;
    this.startedAt = performance.now();
    this.selected = undefined;
    this.gaveUp = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  /**
   * A STUN message other than a request that reached the transport on our `local`
   * address: 'handled' when it answers one of our checks and checks out; 'refused' when
   * it claims to but does not (from another address or to another of ours, an error, a
   * bad FINGERPRINT or MESSAGE-INTEGRITY); 'stray' when it answers nothing of ours.
   */
  onResponse(message: StunMessage, data: Buffer, from: MuxAddress, local: number): 'handled' | 'refused' | 'stray' {
    if (message.type !== BINDING_SUCCESS && message.type !== BINDING_ERROR) return 'stray';
    const id = message.transactionId.toString('hex');
    const path = this.pending.get(id);
    if (!path) return 'stray';
    const to = path.to;
    if (to[0] !== from[0] || to[1] !== from[1] || path.local !== local || message.type !== BINDING_SUCCESS) {
      this.refused++;
      return 'refused';
    }
    if (!fingerprintValid(data, message.fingerprintAt) || !integrityValid(data, message.integrityAt, this.remote.pwd)) {
      this.refused++;
      return 'refused';
    }
    this.pending.delete(id);
    if (this.closed) return 'handled';
    if (!this.selected) {
      this.selected = path;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.scheduleConsent();
    }
    const selected = this.selected;
    if (to[0] === selected.to[0] && to[1] === selected.to[1] && local === selected.local) this.link.succeeded(to, local);
    return 'handled';
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private schedule(delay: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, delay);
    this.timer.unref();
  }

  /** One check: the best pair not asked within retransmitMs. */
  private tick(): void {
    if (this.closed || this.selected) return;
    const now = performance.now();
    if (now - this.startedAt > this.timeoutMs) {
      this.pending.clear();
      this.gaveUp = true;
      this.link.failed();
      return;
    }
    // With no candidate yet, keep the clock: a trickled one is checked at the next tick.
    const pair = this.pairs.find((p) => now - p.lastSentAt >= this.retransmitMs);
    if (pair) {
      pair.lastSentAt = now;
      this.check({ to: [pair.remote.ip, pair.remote.port], local: pair.local });
    }
    this.schedule(this.paceMs);
  }

  private scheduleConsent(): void {
    if (this.closed) return;
    const delay = this.consentIntervalMs * (0.8 + Math.random() * 0.4);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed || !this.selected) return;
      this.check(this.selected);
      this.scheduleConsent();
    }, delay);
    this.timer.unref();
  }

  private check(path: Path): void {
    const transactionId = randomBytes(12);
    const request = writeStun(
      BINDING_REQUEST,
      transactionId,
      [
        [StunAttr.USERNAME, Buffer.from(`${this.remote.ufrag}:${this.localUfrag}`, 'utf8')],
        [StunAttr.PRIORITY, uint32(PRFLX_PRIORITY)],
        [StunAttr.ICE_CONTROLLING, this.tieBreaker],
        [StunAttr.USE_CANDIDATE, Buffer.alloc(0)],
      ],
      this.remote.pwd,
    );
    // Answers to checks older than the retransmissions' lifetime are of no use.
    if (this.pending.size > 64) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(transactionId.toString('hex'), path);
    this.checksSent++;
    this.link.send(request, path.to, path.local);
  }
}

function uint32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

/**
 * Reads an ICE candidate line ("candidate:<foundation> <component> <transport>
 * <priority> <ip> <port> typ <type> ...", with or without "a="): UDP, component 1
 * only; undefined otherwise.
 */
export function readCandidate(line: string): RemoteCandidate | undefined {
  const m = /^(?:a=)?candidate:\S+ (\d+) (\S+) (\d+) (\S+) (\d+) typ \S+/.exec(line.trim());
  if (!m || m[1] !== '1' || m[2]!.toLowerCase() !== 'udp') return undefined;
  const port = Number(m[5]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { ip: m[4]!, port, priority: Number(m[3]) };
}
