import type { RTCPeerConnection } from 'werift';
import type { PlannedPacket } from '../traffic.js';
import { receiveRtp } from './fastReceive.js';
import { JsonSocket, PendingRequests } from './JsonSocket.js';
import { Participant } from './Participant.js';
import { UplinkTracks, createPeer, gatheringComplete } from './weriftPeer.js';

const SIGN_IN_TIMEOUT_MS = 60_000;

interface CandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/**
 * A participant of a Roundtable open room, through the normal signaling at /ws:
 * register + hello, `room.join`, then the Kurento group-call words a browser client
 * sends (receiveVideoFrom for its uplink and for each other participant, candidates).
 */
export class RoundtableParticipant extends Participant {
  private socket: JsonSocket | undefined;
  private readonly requests = new PendingRequests<number>();
  private nextId = 1;
  private me = '';
  private readonly peers = new Map<string, RTCPeerConnection>();
  private readonly pendingCandidates = new Map<string, CandidateInit[]>();
  private readonly uplink = new UplinkTracks();
  private signals: Promise<void> = Promise.resolve();

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
        if (type === 'register' && this.spec.username && text.includes('CONFLICT')) type = 'login';
        else if (attempt < 30 && (text.includes('TOO_MANY_ATTEMPTS') || text.includes('OVERLOADED') || text.includes('timed out'))) await new Promise((resolve) => setTimeout(resolve, 1000 + Math.random() * 2000));
        else throw error;
      }
    }
  }

  protected transmit(planned: PlannedPacket, payload: Buffer): void {
    this.uplink.send(planned, payload);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.socket?.isOpen) {
      await this.request('room.leave', { room: this.roomName }).catch(() => undefined);
    }
    this.socket?.close();
    this.requests.rejectAll(new Error('closed'));
    await Promise.all([...this.peers.values()].map((pc) => pc.close().catch(() => undefined)));
    this.peers.clear();
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
        await this.publish();
        for (const sender of payload['data'] as string[]) await this.receiveFrom(sender);
        break;
      case 'newParticipantArrived':
        await this.receiveFrom(String(payload['name']));
        break;
      case 'participantLeft': {
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
    if (process.env['RTBENCH_DEBUG']) pc.iceConnectionStateChange.subscribe((state) => process.stderr.write(`${(performance.timeOrigin + performance.now()).toFixed(0)} [${this.id}] ice ${sender === this.me ? 'up' : sender}: ${state}\n`));
    if (process.env['RTBENCH_DEBUG']) pc.connectionStateChange.subscribe((state) => process.stderr.write(`${(performance.timeOrigin + performance.now()).toFixed(0)} [${this.id}] link ${sender === this.me ? 'up' : sender}: ${state}\n`));
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
