import { MediaError } from '../core/errors.js';
import { sessionShape, candidateUfrag } from './renegotiation.js';
import { mapCandidateLines, parseCandidate, type ParsedCandidate, type RejectedSection } from './sdp.js';
import type { IceCandidateInit } from './types.js';

export interface CandidateExchangeEvents {
  candidate(candidate: IceCandidateInit): void;
  gatheringStarted(): void;
  gatheringDone(): void;
}

/**
 * Trickle ICE as Kurento does it, for one endpoint: local candidates are held until
 * gatherCandidates() and then announced in Kurento's order (the first candidate, the
 * gathering state, the others, done); remote candidates that overtook the offer (or
 * gatherCandidates()) are held until both are in; candidates of a generation the peer
 * left behind (an ICE restart) are dropped, those of a generation whose offer is not in
 * yet are held; candidates of addresses the engine cannot reach are ignored and
 * counted.
 */
export class CandidateExchange {
  private asked = false;
  private localDone = false;
  private announced = false;
  private readonly pendingLocal: IceCandidateInit[] = [];
  private readonly early: IceCandidateInit[] = [];
  /** The peer's current ICE ufrag, and the ones it used before (their candidates are stale). */
  private remoteUfrag: string | undefined;
  private readonly oldRemoteUfrags = new Set<string>();
  private ignored = 0;
  /** The remote description applied last (given to remoteSdpForAgent(), then noted applied), with its candidates: the remote session descriptor. */
  lastRemoteSdp: string | undefined;
  private pendingRemoteSdp: string | undefined;

  constructor(
    private readonly acceptRemote: (candidate: ParsedCandidate) => boolean,
    private readonly events: CandidateExchangeEvents,
  ) {}

  /** True once gatherCandidates() was called. */
  get gathering(): boolean {
    return this.asked;
  }

  /** Remote candidates ignored (unreachable from the configured addresses). */
  get remoteCandidatesIgnored(): number {
    return this.ignored;
  }

  // --- local candidates --------------------------------------------------------------

  /** gatherCandidates(): announces what is held. False when it was called before. */
  start(): boolean {
    if (this.asked) return false;
    this.asked = true;
    for (const c of this.pendingLocal.splice(0)) this.emitCandidate(c);
    if (this.localDone) this.finish();
    return true;
  }

  /** A candidate of the ICE agent. */
  local(candidate: IceCandidateInit): void {
    if (this.asked) this.emitCandidate(candidate);
    else this.pendingLocal.push(candidate);
  }

  /** The ICE agent finished gathering (once per generation). */
  localComplete(): void {
    if (this.localDone) return;
    this.localDone = true;
    if (this.asked) this.finish();
  }

  /** The agent gathers again (an ICE restart): its 'done' is announced again. */
  restartLocal(): void {
    this.localDone = false;
  }

  /** The agent was discarded before it was used: forget its candidates. */
  discardLocal(): void {
    this.pendingLocal.length = 0;
    this.localDone = false;
  }

  // --- remote candidates -------------------------------------------------------------

  /**
   * Checks a remote candidate: INVALID_CANDIDATE when malformed; false when there is
   * nothing to add (the empty end-of-candidates one, or an unreachable address, counted).
   */
  accepts(init: IceCandidateInit): boolean {
    if (!init || typeof init.candidate !== 'string') {
      throw new MediaError('INVALID_CANDIDATE', 'candidate must be an object with a candidate string');
    }
    if (init.candidate === '') return false;
    const parsed = parseCandidate(init.candidate);
    if (!parsed) throw new MediaError('INVALID_CANDIDATE', `malformed ICE candidate '${init.candidate.slice(0, 80)}'`);
    if (!this.acceptRemote(parsed)) {
      this.ignored++;
      return false;
    }
    return true;
  }

  /** Keeps a candidate until its description (or gatherCandidates()) is in. */
  hold(init: IceCandidateInit): void {
    this.early.push(init);
  }

  /** The held candidates, taken out (those still early are held again by the caller's addIceCandidate). */
  takeHeld(): IceCandidateInit[] {
    return this.early.splice(0);
  }

  /**
   * True when the candidate belongs to the peer's current ICE generation. A candidate of
   * a generation the peer left behind is dropped; one of a new generation overtook its
   * offer (an ICE restart) and is held.
   */
  ofCurrentGeneration(init: IceCandidateInit): boolean {
    const ufrag = candidateUfrag(init.candidate);
    if (ufrag === undefined || ufrag === this.remoteUfrag) return true;
    if (!this.oldRemoteUfrags.has(ufrag)) this.early.push(init);
    return false;
  }

  /** A remote description was applied: its ufrag is the current generation. */
  noteRemoteDescription(sdp: string): void {
    if (this.pendingRemoteSdp !== undefined) this.lastRemoteSdp = this.pendingRemoteSdp;
    this.pendingRemoteSdp = undefined;
    const ufrag = sessionShape(sdp).ufrag;
    if (this.remoteUfrag !== undefined && this.remoteUfrag !== ufrag) this.oldRemoteUfrags.add(this.remoteUfrag);
    this.remoteUfrag = ufrag;
  }

  /**
   * The remote description for the ICE agent, without the candidates the engine cannot
   * reach (counted). Before gatherCandidates(), the candidates the description carries
   * are taken out of it and held like trickled ones: as in Kurento, ICE starts only once
   * gathering was asked for. Given to the agent at once, they were checked straight
   * away, and the pair was selected and connected before any local candidate or the
   * GATHERING state had been announced.
   */
  remoteSdpForAgent(sdp: string): string {
    const reachable = this.filterRemoteSdp(sdp);
    this.pendingRemoteSdp = reachable;
    if (this.asked) return reachable;
    const eol = reachable.includes('\r\n') ? '\r\n' : '\n';
    const sections = reachable.split(/\r?\n(?=m=)/);
    return sections
      .map((section, i) => {
        if (i === 0) return section;
        const mid = /^a=mid:(\S+)/m.exec(section)?.[1] ?? null;
        return section
          .split(/\r?\n/)
          .filter((line) => {
            // Its end too: the agent would take "no candidates, and no more" and fail. (A trickled end is not passed on either.)
            if (line === 'a=end-of-candidates') return false;
            if (!line.startsWith('a=candidate:')) return true;
            // By mid: the index of this (usable) description is not the offer's when sections were rejected.
            this.early.push({ candidate: line.slice(2), sdpMid: mid, sdpMLineIndex: mid === null ? i - 1 : null });
            return false;
          })
          .join(eol);
      })
      .join(eol);
  }

  /** The remote description without the candidates the engine cannot reach (counted). */
  filterRemoteSdp(sdp: string): string {
    return mapCandidateLines(sdp, (line) => {
      const parsed = parseCandidate(line);
      if (parsed && this.acceptRemote(parsed)) return line;
      this.ignored++;
      return null;
    });
  }

  /** True when the engine may answer or probe `address`. */
  acceptsAddress(address: string): boolean {
    return this.acceptRemote({ foundation: '', component: 1, protocol: 'udp', priority: 0, address, port: 0, type: 'prflx' });
  }

  /** Kurento's order: the first candidate, then the GATHERING state, ... then done. */
  private emitCandidate(candidate: IceCandidateInit): void {
    this.events.candidate(candidate);
    this.announce();
  }

  private finish(): void {
    this.announce();
    this.events.gatheringDone();
  }

  private announce(): void {
    if (this.announced) return;
    this.announced = true;
    this.events.gatheringStarted();
  }
}

/**
 * The index, among the sections negotiated, of the section a remote candidate names by
 * its index in the peer's offer (rejected sections are not negotiated); null when it
 * names a rejected section.
 */
export function negotiatedIndex(init: IceCandidateInit, rejected: readonly RejectedSection[]): number | undefined | null {
  if (init.sdpMid != null && rejected.some((r) => r.mid === init.sdpMid)) return null;
  const index = init.sdpMLineIndex ?? undefined;
  if (index === undefined || rejected.length === 0) return index;
  if (rejected.some((r) => r.index === index)) return init.sdpMid != null ? undefined : null;
  return index - rejected.filter((r) => r.index < index).length;
}
