import type { RTCPeerConnection } from 'werift';
import type { PlannedPacket } from '../traffic.js';
import { receiveRtp } from './fastReceive.js';
import { JsonSocket, PendingRequests } from './JsonSocket.js';
import { Participant } from './Participant.js';
import { SimulcastUplink, createSimulcastPeer } from './SimulcastUplink.js';
import { UplinkTracks, createPeer, gatheringComplete } from './weriftPeer.js';

const SIGN_IN_TIMEOUT_MS = 60_000;

interface CandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/**
 * A participant of a Roundtable open room, through the normal signaling at /ws:
 * register + hello, `room.join`, then the group-call words of the run
 * (JoinCommand.roundtableWords):
 * - bundled (what the SDK and the web app speak): ONE sending connection (`publish`,
 *   answered by `publishAnswer`) and ONE receiving connection that answers the server's
 *   `subscribeOffer`s (renegotiated as others come and go; a fresh connection when the
 *   offer has other ICE credentials). The server is ICE-lite: no candidates are sent.
 * - seed: the Kurento group-call words (receiveVideoFrom for its uplink and for each
 *   other participant, candidates): 1 + (N - 1) connections.
 * A server that does not announce the bundled words (an older revision) gets the seed's.
 */
export class RoundtableParticipant extends Participant {
  private socket: JsonSocket | undefined;
  private readonly requests = new PendingRequests<number>();
  private nextId = 1;
  private me = '';
  /** Seed words: a connection per sender (its own id: the uplink). */
  private readonly peers = new Map<string, RTCPeerConnection>();
  /** Bundled words: the sending and the receiving connection. */
  private sendPc: RTCPeerConnection | undefined;
  private recvPc: RTCPeerConnection | undefined;
  /** Whether this participant speaks the bundled words in this room (decided at existingParticipants). */
  private bundled = false;
  /** existingParticipants came: the words are decided. */
  private wordsKnown = false;
  /**
   * Arrivals announced before our own existingParticipants (the server tells members of a
   * join while ours is still being made): with the seed's words they get a downlink then.
   */
  private readonly earlyArrivals: string[] = [];
  private readonly pendingCandidates = new Map<string, CandidateInit[]>();
  private readonly uplink = new UplinkTracks();
  /** A simulcast load (traffic.simulcast): the video goes out as three layers (bundled words only). */
  private readonly simulcast: SimulcastUplink | undefined;
  /** Publishers whose video this receiver asked for (simulcastRequest). */
  private readonly asked = new Set<string>();
  private signals: Promise<void> = Promise.resolve();

  constructor(...args: ConstructorParameters<typeof Participant>) {
    super(...args);
    const layers = this.context.command.traffic.simulcast;
    this.simulcast = layers?.length ? new SimulcastUplink(layers) : undefined;
  }

  private get roomName(): string {
    const { run, roomPrefix } = this.context.command;
    return `${roomPrefix ?? `bench-${run}`}-${this.spec.room}`;
  }

  protected async connect(): Promise<void> {
    const endpoint = this.context.command.endpoint;
    if (endpoint.kind !== 'roundtable') throw new Error('not a Roundtable endpoint');
    this.socket = await JsonSocket.open(endpoint.signalingUrl, undefined, (frame) => this.onFrame(frame));
    const token = await this.signIn();
    const hello = await this.request('hello', { token });
    this.me = String(hello['userId']);
    await this.request('room.join', { room: this.roomName });
  }

  /** Sends a signaling request for the soak (e.g. `room.record` of its room); `room` is filled in. */
  async roomRequest(type: string, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (!this.socket?.isOpen) throw new Error('not connected');
    return this.request(type, { room: this.roomName, ...fields });
  }

  /** A new account, or the spec's own: registered the first time, logged in to afterwards. */
  private async signIn(): Promise<string> {
    const password = 'bench-password';
    const username = this.spec.username ?? `bench${this.context.command.run}u${this.id}`;
    // A password hash is a 32 MiB scrypt, two at a time and 16 waiting per address: a burst of
    // sign-ins from the generator's one address is told to wait (TOO_MANY_ATTEMPTS, OVERLOADED, or the
    // server's request timeout while it waited in the queue)
    // and tries again, as a client does.
    let type = 'register';
    for (let attempt = 1; ; attempt++) {
      try {
        return String((await this.request(type, { username, password }, SIGN_IN_TIMEOUT_MS))['token']);
      } catch (error) {
        const text = String(error);
        // A spec's own account registered before, or our earlier attempt that timed out on
        // our side went through on the server's: the account is ours, log in to it.
        if (type === 'register' && (this.spec.username || attempt > 1) && text.includes('CONFLICT')) type = 'login';
        else if (attempt < 30 && (text.includes('TOO_MANY_ATTEMPTS') || text.includes('OVERLOADED') || text.includes('timed out'))) await new Promise((resolve) => setTimeout(resolve, 1000 + Math.random() * 2000));
        else throw error;
      }
    }
  }

  protected connectionCount(): number {
    return this.peers.size + (this.sendPc ? 1 : 0) + (this.recvPc ? 1 : 0);
  }

  protected override wordsSpoken(): { bundled?: boolean } {
    return { bundled: this.bundled };
  }

  protected transmit(planned: PlannedPacket, payload: Buffer): void {
    if (this.simulcast) this.simulcast.send(planned, payload);
    else this.uplink.send(planned, payload);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.socket?.isOpen) {
      await this.request('room.leave', { room: this.roomName }).catch(() => undefined);
    }
    this.socket?.close();
    this.requests.rejectAll(new Error('closed'));
    const all = [...this.peers.values(), ...[this.sendPc, this.recvPc].filter((pc): pc is RTCPeerConnection => pc !== undefined)];
    await Promise.all(all.map((pc) => pc.close().catch(() => undefined)));
    this.peers.clear();
    this.sendPc = undefined;
    this.recvPc = undefined;
  }

  private async request(type: string, fields: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const answer = this.requests.wait(id, type, timeoutMs);
    this.socket?.send({ id, type, ...fields });
    const response = await answer;
    if (response['ok'] !== true) {
      const error = response['error'] as { code?: string; message?: string } | undefined;
      throw new Error(`${type} failed: ${error?.code ?? '?'} ${error?.message ?? ''}`);
    }
    return (response['result'] ?? {}) as Record<string, unknown>;
  }

  private onFrame(frame: Record<string, unknown>): void {
    if (typeof frame['id'] === 'number' && 'ok' in frame) {
      this.requests.settle(frame['id'], frame);
      return;
    }
    if (frame['type'] === 'room.signal' && frame['room'] === this.roomName) {
      const payload = frame['payload'] as Record<string, unknown>;
      // One at a time, in order: an answer must not overtake the offer it answers.
      this.signals = this.signals
        .then(() => this.handle(payload))
        .catch((error: unknown) => {
          this.errors.push(error instanceof Error ? error.message : String(error));
          if (process.env['RTBENCH_DEBUG']) process.stderr.write(`[${this.id}] error: ${String(error)}\n`);
        });
    }
  }

  private async handle(payload: Record<string, unknown>): Promise<void> {
    if (this.closed) return;
    if (process.env['RTBENCH_DEBUG']) process.stderr.write(`${(performance.timeOrigin + performance.now()).toFixed(0)} [${this.id}] ${String(payload['type'])} ${String(payload['name'] ?? '')}\n`);
    switch (payload['type']) {
      case 'existingParticipants':
        this.wordsKnown = true;
        this.bundled = this.context.command.roundtableWords === 'bundled' && payload['bundled'] === true;
        if (this.simulcast && !this.bundled) throw new Error('a simulcast load needs the bundled words (publish), which this server does not announce');
        if (this.bundled) {
          await this.publishBundled();
          break;
        }
        await this.publish();
        for (const sender of [...(payload['data'] as string[]), ...this.earlyArrivals]) await this.receiveFrom(sender);
        break;
      case 'publishAnswer':
        this.simulcast?.accept(String(payload['sdpAnswer']));
        await this.sendPc?.setRemoteDescription({ type: 'answer', sdp: String(payload['sdpAnswer']) });
        break;
      case 'subscribeOffer':
        await this.answerSubscription(String(payload['sdpOffer']));
        this.askVideo(payload['tracks']);
        break;
      case 'publishLayers': {
        const active = payload['active'];
        if (this.simulcast && active && typeof active === 'object') this.setLayersActive(active as Record<string, boolean>);
        break;
      }
      case 'newParticipantArrived':
        if (!this.wordsKnown) this.earlyArrivals.push(String(payload['name']));
        // Bundled: their tracks come in the server's next subscribeOffer.
        else if (!this.bundled) await this.receiveFrom(String(payload['name']));
        break;
      case 'participantLeft': {
        if (this.bundled) break; // the server offers the receiving connection again without their tracks
        const name = String(payload['name']);
        await this.peers.get(name)?.close();
        this.peers.delete(name);
        break;
      }
      case 'receiveVideoAnswer': {
        const name = String(payload['name']);
        const pc = this.peers.get(name);
        if (!pc) return;
        await pc.setRemoteDescription({ type: 'answer', sdp: String(payload['sdpAnswer']) });
        for (const c of this.pendingCandidates.get(name) ?? []) await this.addCandidate(pc, c);
        this.pendingCandidates.delete(name);
        break;
      }
      case 'iceCandidate': {
        const name = String(payload['name']);
        const candidate = payload['candidate'] as CandidateInit;
        const pc = this.peers.get(name);
        if (pc?.remoteDescription) await this.addCandidate(pc, candidate);
        else this.pendingCandidates.set(name, [...(this.pendingCandidates.get(name) ?? []), candidate]);
        break;
      }
      default:
        break;
    }
  }

  private async publish(): Promise<void> {
    if (this.peers.has(this.me)) return;
    const pc = createPeer(this.context.command.host, this.context.stunUrl);
    this.uplink.attach(pc, () => this.keyframeRequested());
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.startPublishing();
    });
    await this.negotiate(pc, this.me);
  }

  /** Bundled: one sending connection carrying audio and video, offered with `publish`. */
  private async publishBundled(): Promise<void> {
    if (this.sendPc) return;
    const { host } = this.context.command;
    const pc = this.simulcast ? createSimulcastPeer(host, this.context.stunUrl) : createPeer(host, this.context.stunUrl);
    this.sendPc = pc;
    if (this.simulcast) this.simulcast.attach(pc, (layer) => this.keyframeRequested(layer));
    else this.uplink.attach(pc, () => this.keyframeRequested());
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.startPublishing();
    });
    this.debugStates(pc, 'send');
    await pc.setLocalDescription(await pc.createOffer());
    // The server is ICE-lite: it learns our address from our checks, so no candidates
    // are needed in the offer (as the SDK, which does not wait for gathering either).
    await this.request('room.signal', { room: this.roomName, payload: { type: 'publish', sdpOffer: this.simulcast ? SimulcastUplink.offer(pc.localDescription!.sdp) : pc.localDescription!.sdp } });
  }

  /**
   * Bundled: answers the server's offer on the receiving connection (one m-line per
   * track of the others). Other ICE credentials than the current connection's mean a
   * fresh server transport (everyone had left): the answer goes on a new connection.
   */
  private async answerSubscription(sdpOffer: string): Promise<void> {
    const current = this.recvPc?.remoteDescription?.sdp;
    if (this.recvPc && current && iceUfrag(current) !== iceUfrag(sdpOffer)) {
      await this.recvPc.close().catch(() => undefined);
      this.recvPc = undefined;
    }
    if (!this.recvPc) {
      const pc = createPeer(this.context.command.host, this.context.stunUrl);
      this.recvPc = pc;
      receiveRtp(pc, (payload) => this.received(payload), this.context.command.fastReceive);
      this.debugStates(pc, 'receive');
    }
    const pc = this.recvPc;
    await pc.setRemoteDescription({ type: 'offer', sdp: sdpOffer });
    await pc.setLocalDescription(await pc.createAnswer());
    await this.request('room.signal', { room: this.roomName, payload: { type: 'subscribeAnswer', sdpAnswer: pc.localDescription!.sdp } });
  }

  /**
   * A simulcast load: asks the server for each new publisher's video at the level of the
   * run's simulcastRequest (as the SDK's setVideoQuality does with `subscribeQuality`).
   * Not awaited: the offer's answer is what the media waits for.
   */
  private askVideo(tracks: unknown): void {
    const request = this.context.command.simulcastRequest ?? 'none';
    if (!this.simulcast || request === 'none' || !Array.isArray(tracks)) return;
    const quality = request === 'mixed' ? (['low', 'medium', 'high'] as const)[this.spec.index % 3]! : request;
    for (const track of tracks as Array<{ kind?: unknown; participant?: unknown }>) {
      const participant = track.participant;
      if (track.kind !== 'video' || typeof participant !== 'string' || participant === this.me || this.asked.has(participant)) continue;
      this.asked.add(participant);
      this.request('room.signal', { room: this.roomName, payload: { type: 'subscribeQuality', participant, quality } }).catch((error: unknown) => {
        this.errors.push(error instanceof Error ? error.message : String(error));
      });
    }
  }

  private debugStates(pc: RTCPeerConnection, name: string): void {
    if (!process.env['RTBENCH_DEBUG']) return;
    const at = (): string => (performance.timeOrigin + performance.now()).toFixed(0);
    pc.iceConnectionStateChange.subscribe((state) => process.stderr.write(`${at()} [${this.id}] ice ${name}: ${state}\n`));
    pc.connectionStateChange.subscribe((state) => process.stderr.write(`${at()} [${this.id}] link ${name}: ${state}\n`));
  }

  private async receiveFrom(sender: string): Promise<void> {
    if (sender === this.me || this.peers.has(sender)) return;
    const pc = createPeer(this.context.command.host, this.context.stunUrl);
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    receiveRtp(pc, (payload) => this.received(payload), this.context.command.fastReceive);
    await this.negotiate(pc, sender);
  }

  private async negotiate(pc: RTCPeerConnection, sender: string): Promise<void> {
    this.peers.set(sender, pc);
    this.debugStates(pc, sender === this.me ? 'up' : sender);
    await pc.setLocalDescription(await pc.createOffer());
    // Candidates go in the offer: a browser trickles them, but nine peer connections'
    // worth of trickled candidates per participant would only add signaling load.
    await gatheringComplete(pc);
    await this.request('room.signal', { room: this.roomName, payload: { type: 'receiveVideoFrom', sender, sdpOffer: pc.localDescription!.sdp } });
  }

  private async addCandidate(pc: RTCPeerConnection, c: CandidateInit): Promise<void> {
    await pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined }).catch(() => undefined);
  }
}

/** The first a=ice-ufrag of an SDP. */
function iceUfrag(sdp: string): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
}
