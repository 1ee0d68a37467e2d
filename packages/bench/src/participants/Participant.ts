import type { JoinCommand, JoinInfo, ParticipantSpec, ParticipantStatus } from '../ipc.js';
import type { Recorder } from '../Recorder.js';
import { TrafficSchedule, nowUs, readPayload, writePayload, type Kind, type PlannedPacket } from '../traffic.js';

/** What every simulated participant needs from its worker. */
export interface ParticipantContext {
  /** The bench's join, or the soak's add (the same fields). */
  command: Omit<JoinCommand, 'type'>;
  recorder: Recorder;
  /** The worker's loopback STUN server URL (werift peers). */
  stunUrl: string;
}

/**
 * One simulated participant: publishes the synthetic schedule on its uplink, receives
 * every other participant of its room, and measures its join time (join request to the
 * first packet of every remote stream). Subclasses speak one target's protocol.
 */
export abstract class Participant {
  readonly id: number;
  protected readonly roomMembers: number[];
  private schedule: TrafficSchedule | undefined;
  private readonly seq: Record<Kind, number> = { audio: 0, video: 0 };
  private readonly firstPackets = new Map<string, number>();
  private joinStartUs = 0;
  /** When the last keyframe request was honoured, per simulcast layer (-1: the one stream). */
  private readonly lastKeyframeRequest = new Map<number, number>();
  /** Simulcast: the layers the server last asked for, by rid (kept until the schedule starts). */
  private layerWish: Record<string, boolean> = {};
  protected closed = false;
  private joined = false;
  /** Members come and go (the soak): no fixed set of remote streams is expected. */
  private readonly openMembership: boolean;
  /** Errors after joining (signaling failures); they show as missing streams, and are reported. */
  readonly errors: string[] = [];

  constructor(
    readonly spec: ParticipantSpec,
    protected readonly context: ParticipantContext,
  ) {
    const { idBase, roomSize } = context.command;
    this.id = spec.id;
    this.openMembership = context.command.openMembership ?? false;
    this.roomMembers = this.openMembership ? [] : Array.from({ length: roomSize }, (_, i) => idBase + spec.room * roomSize + i);
    for (const sender of this.remoteIds) {
      context.recorder.expect(this.id, sender, 'audio');
      context.recorder.expect(this.id, sender, 'video');
    }
  }

  get remoteIds(): number[] {
    return this.roomMembers.filter((m) => m !== this.id);
  }

  get streamsExpected(): number {
    return this.remoteIds.length * 2;
  }

  get streamsFlowing(): number {
    return this.firstPackets.size;
  }

  /** When this participant asked to join, and when each remote stream's first packet came. */
  joinInfo(): JoinInfo {
    return { id: this.id, remotes: this.remoteIds, startUs: this.joinStartUs, firstPacketUs: Object.fromEntries(this.firstPackets) };
  }

  /** What it has heard so far, for the soak (which knows who is in the room). */
  status(): ParticipantStatus {
    return { id: this.id, room: this.spec.room, joined: this.joined, streams: [...this.firstPackets.keys()], errors: this.errors.slice(0, 3), connections: this.connectionCount(), ...this.wordsSpoken() };
  }

  /** Its peer connections to the server now. */
  protected abstract connectionCount(): number;

  /** Roundtable: which words it speaks. */
  protected wordsSpoken(): { bundled?: boolean } {
    return {};
  }

  /** Joins: signs in and publishes. Resolves when the uplink is negotiated (Janus: connected). */
  async join(): Promise<void> {
    this.joinStartUs = nowUs();
    await this.connect();
    this.joined = true;
  }

  /** Janus subscribes once every publisher published; the others receive from the server's offers. */
  async subscribe(): Promise<void> {}

  /** Sends whatever the schedule says is due. */
  tick(nowMs: number): void {
    if (!this.schedule || this.closed) return;
    for (const planned of this.schedule.due(nowMs)) {
      const payload = Buffer.allocUnsafe(planned.size);
      const seq = this.seq[planned.kind]++;
      const sendUs = nowUs();
      writePayload(payload, planned, this.id, seq, sendUs);
      this.transmit(planned, payload);
      this.context.recorder.onSent(this.id, planned.kind, planned.size, sendUs, planned.layer?.index);
    }
  }

  abstract close(): Promise<void>;

  protected abstract connect(): Promise<void>;
  protected abstract transmit(planned: PlannedPacket, payload: Buffer): void;

  /** Starts the uplink's schedule (once its transport is negotiated). */
  protected startPublishing(): void {
    if (this.schedule) return;
    this.schedule = new TrafficSchedule(this.context.command.traffic, performance.now());
    this.applyLayerWish();
  }

  /** A PLI/FIR from the server (for simulcast layer `layer`): a keyframe next, as a browser's encoder would (at most one per 300 ms per layer). */
  protected keyframeRequested(layer?: number): void {
    const now = performance.now();
    const key = layer ?? -1;
    if (now - (this.lastKeyframeRequest.get(key) ?? -Infinity) < 300) return;
    this.lastKeyframeRequest.set(key, now);
    this.schedule?.requestKeyframe(layer);
  }

  /** Simulcast: the server asks to send only the layers some receiver takes (publishLayers), as the SDK does with a browser's encodings. */
  protected setLayersActive(active: Record<string, boolean>): void {
    this.layerWish = { ...this.layerWish, ...active };
    this.applyLayerWish();
  }

  private applyLayerWish(): void {
    const layers = this.context.command.traffic.simulcast ?? [];
    for (const [i, layer] of layers.entries()) {
      const wanted = this.layerWish[layer.rid];
      if (wanted !== undefined) this.schedule?.setLayerActive(i, wanted);
    }
  }

  /** Feeds one received payload (RTP payload, or the floor's datagram past its fake RTP header). */
  protected received(payload: Uint8Array, offset = 0): void {
    const header = readPayload(payload, offset);
    if (!header || header.sender === this.id) return;
    const recvUs = nowUs();
    if (this.openMembership || this.firstPackets.size < this.streamsExpected) {
      const key = `${header.sender}:${header.kind}`;
      if (!this.firstPackets.has(key)) {
        this.firstPackets.set(key, recvUs);
        if (process.env['RTBENCH_DEBUG']) process.stderr.write(`${(performance.timeOrigin + performance.now()).toFixed(0)} [${this.id}] first packet ${key}\n`);
      }
    }
    this.context.recorder.onReceived(this.id, header, payload.length - offset, recvUs);
  }
}
