import type { HubPort } from '../core/HubPort.js';
import { MediaError } from '../core/errors.js';
import type { MediaElement } from '../core/MediaElement.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { TypedEmitter } from '../core/TypedEmitter.js';
import type { MediaKind } from '../core/types.js';
import type { Composite } from '../mcu/Composite.js';
import type { UdpMux } from '../net/UdpMux.js';
import { validateLayerRequest, type Consumer, type LayerRequest } from '../transport/Consumer.js';
import type { DtlsCertificate } from '../transport/DtlsSession.js';
import type { Producer } from '../transport/Producer.js';
import { WebRtcTransport, type WebRtcTransportOptions } from '../transport/WebRtcTransport.js';
import { ActiveSpeaker, type ActiveSpeakerOptions, type SpeakerUpdate } from './ActiveSpeaker.js';
import { TransportBridge } from './TransportBridge.js';

/** How a room carries audio: forwarded like video (default), or mixed (each member receives the mix of the others). */
export type TransportRoomAudio = 'forwarded' | 'mixed';

export interface TransportRoomOptions {
  /** Holds the room's Composite (mixed audio) and whatever the owner connects to the members' media. */
  pipeline: MediaPipeline;
  /** The shared UDP port, or that of each ICE address, best first (the caller acquires and releases them). */
  mux: UdpMux | readonly UdpMux[];
  certificate: DtlsCertificate;
  /** Default 'forwarded'. */
  audio?: TransportRoomAudio;
  /**
   * The Composite that mixes a 'mixed' room's audio, when the owner shares it with other
   * participants of its own (the owner closes it). Default: the room makes one (and closes it).
   */
  mixer?: Composite;
  /** Options of every transport (see WebRtcTransportOptions; their defaults). */
  transport?: Pick<WebRtcTransportOptions, 'announcedAddress' | 'consentTimeoutMs' | 'rtcpIntervalMs' | 'maxIncomingBitrate' | 'opus' | 'bandwidthEstimation'>;
  /** The active speaker detection (see ActiveSpeakerOptions; their defaults). */
  activeSpeaker?: ActiveSpeakerOptions;
}

/** One m-line of a member's receiving transport: whose media it carries (null: the room's audio mix). */
export interface RoomTrack {
  mid: string;
  kind: MediaKind;
  participant: string | null;
}

export interface TransportRoomEvents extends Record<string, unknown[]> {
  /** The server's offer on `participant`'s receiving transport: send it, and give the answer to answer(). */
  offer: [participant: string, sdp: string, tracks: RoomTrack[]];
  /**
   * The dominant speaker or a member's audio level changed (at most once per period of
   * the detection), from the audio level extension of the members' audio (members whose
   * client did not negotiate it, and sources, are not in `levels`).
   */
  speaker: [update: SpeakerUpdate];
  /**
   * Which simulcast layers of `participant`'s video on m-line `mid` some member takes
   * (`active[i]` for `rids[i]`, lowest first): ask its client to pause the others and
   * resume them (`RTCRtpEncodingParameters.active`).
   */
  layers: [participant: string, mid: string, rids: string[], active: boolean[]];
}

/** One participant: a sending and a receiving transport, and its media as an element of the pipeline. */
class Member {
  /** Consumers on the receiving transport, and whose media each carries. */
  readonly consumers = new Map<Consumer, string | null>();
  /** An offer of ours waits for its answer. */
  offering = false;
  /** Consumers changed while the offer was out: offer again once it is answered. */
  stale = false;
  /** The offer out, while it waits for its answer. */
  pending: { sdp: string; tracks: RoomTrack[] } | undefined;
  /** The receiving transport was offered at least once. */
  offered = false;
  /** An offer is due at the end of this turn (changes made together go into one offer). */
  scheduled = false;
  mixPort: HubPort | undefined;
  /** The client's ICE ufrag in the last answer taken on the receiving transport. */
  answeredUfrag: string | undefined;
  /** Ufrags of the client's connections whose receiving transport was replaced: a late answer from one is stale. */
  readonly retiredUfrags: string[] = [];
  /** The DTLS fingerprint of the client's sending connection (from its offers). */
  sendFingerprint: string | undefined;
  /** What this member asked of each publisher's simulcast video (requestLayers), kept for consumers made later. */
  readonly layerRequests = new Map<string, LayerRequest>();

  constructor(
    readonly id: string,
    /** Replaced by a fresh one when the client publishes from a new connection (see publish). */
    public send: WebRtcTransport,
    /** Replaced by a fresh one when nothing is left to receive (see offerNow). */
    public recv: WebRtcTransport,
    readonly bridge: TransportBridge,
  ) {}
}

/**
 * A room of participants over the engine's transports: each member has ONE sending
 * transport (it offers its tracks: publish) and ONE receiving transport (the server
 * offers one m-line per consumer: offer event, answer()), whatever the room's size. A
 * member's new producer is consumed on every other member's receiving transport, which
 * is renegotiated (one offer in flight per transport; changes made meanwhile go into the
 * next). Closed producers (a re-offer without them, a member leaving) take their
 * consumers with them, and those transports are renegotiated too.
 *
 * Each member's media is also an element of the pipeline (`elementOf`, a TransportBridge):
 * a recorder's Composite connects to it, and in a 'mixed' room the room's Composite does,
 * whose per-member mix comes back as a producer consumed on that member's receiving
 * transport (a track whose participant is null).
 */
export class TransportRoom extends TypedEmitter<TransportRoomEvents> {
  private readonly members = new Map<string, Member>();
  /** Participants whose media comes from an element of the pipeline (addSource), as producers. */
  private readonly sources = new Map<string, TransportBridge>();
  private readonly pipeline: MediaPipeline;
  private readonly transportOptions: WebRtcTransportOptions;
  readonly audio: TransportRoomAudio;
  private mixer: Composite | undefined;
  private readonly ownsMixer: boolean;
  private readonly speakers: ActiveSpeaker;
  /** The audio producer whose levels speak for each member. */
  private readonly levelSources = new Map<string, Producer>();
  private closed = false;

  constructor(options: TransportRoomOptions) {
    super();
    this.pipeline = options.pipeline;
    this.audio = options.audio ?? 'forwarded';
    this.mixer = options.mixer;
    this.ownsMixer = options.mixer === undefined;
    // Roundtable's own calls ask senders for Opus FEC and DTX and take RED (the Kurento layer's transports do not: KMS does not).
    this.transportOptions = { opus: { fec: true, dtx: true, red: true }, ...options.transport, mux: options.mux, certificate: options.certificate };
    this.speakers = new ActiveSpeaker(options.activeSpeaker);
    this.speakers.on('update', (update) => {
      this.markSpeaker(update.speaker);
      this.emit('speaker', update);
    });
  }

  /** The dominant speaker now (null: nobody speaks, or no member's levels are known). */
  get activeSpeaker(): string | null {
    return this.speakers.speaker;
  }

  /** Each member's audio level of the last period (linear, 0-1), for members whose audio carries levels. */
  audioLevels(): Map<string, number> {
    return this.speakers.levels();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Participants with transports. */
  participants(): string[] {
    return [...this.members.keys()];
  }

  has(participant: string): boolean {
    return this.members.has(participant);
  }

  /** Transports open in this room: two per member. */
  get transportCount(): number {
    let n = 0;
    for (const m of this.members.values()) n += (m.send.isClosed ? 0 : 1) + (m.recv.isClosed ? 0 : 1);
    return n;
  }

  /** A member's transports (for stats and tests). */
  transportsOf(participant: string): { send: WebRtcTransport; recv: WebRtcTransport } | undefined {
    const m = this.members.get(participant);
    return m ? { send: m.send, recv: m.recv } : undefined;
  }

  /** A member's media as an element of the pipeline (connect it to a Composite's port, a recorder...). */
  elementOf(participant: string): MediaElement | undefined {
    return this.members.get(participant)?.bridge;
  }

  /** Whether `participant` sent `kind` media lately. */
  isSending(participant: string, kind: MediaKind): boolean {
    return this.members.get(participant)?.bridge.isReceiving(kind) ?? false;
  }

  /**
   * Takes `participant`'s offer on its sending transport (making the member and its
   * transports at the first one) and returns the answer. New tracks are consumed by the
   * other members (their receiving transports are offered again). SdpError for an offer
   * that cannot be used: nothing changes then.
   *
   * An offer from a new connection of the client (`renew`: its sending connection
   * failed, and an ICE restart could not bring it back; or another DTLS fingerprint than
   * the one taken) gets a fresh sending transport. The old one closes with its
   * producers; the others' receiving transports drop their consumers and take the new
   * producers in one renegotiation. (The SDP session id cannot tell: werift makes a new
   * one for every offer, and shares one certificate between its connections.)
   */
  publish(participant: string, sdpOffer: string, options: { renew?: boolean } = {}): string {
    this.assertOpen();
    const existing = this.members.get(participant);
    const member = existing ?? this.createMember(participant);
    const fingerprint = fingerprintOf(sdpOffer);
    if (existing && (options.renew === true || (member.sendFingerprint !== undefined && fingerprint !== member.sendFingerprint))) this.renewSending(member);
    try {
      const answer = member.send.processOffer(sdpOffer);
      member.sendFingerprint = fingerprint;
      return answer;
    } catch (error) {
      if (!existing) this.remove(member);
      throw error;
    }
  }

  /**
   * `participant`'s answer to the room's last offer on its receiving transport. Returns
   * false, changing nothing, for a stale answer: one from a client connection whose
   * receiving transport was replaced since (the client answered an offer on the old
   * transport while its subscribeRestart made the new one). INVALID_STATE when no offer
   * waits for an answer.
   */
  answer(participant: string, sdpAnswer: string): boolean {
    this.assertOpen();
    const member = this.members.get(participant);
    if (!member) throw new MediaError('INVALID_STATE', `${participant} has not published in this room`);
    const ufrag = iceUfragOf(sdpAnswer);
    if (ufrag !== undefined && member.retiredUfrags.includes(ufrag)) return false;
    if (!member.offering) throw new MediaError('INVALID_STATE', `no offer to ${participant} is waiting for an answer`);
    try {
      member.recv.processAnswer(sdpAnswer);
      member.answeredUfrag = ufrag;
    } finally {
      member.offering = false;
      member.pending = undefined;
    }
    if (member.stale) this.renegotiate(member);
    return true;
  }

  /**
   * A participant without transports whose media comes from `element` (an endpoint of
   * the seed's words, say): what it sends becomes producers that every member
   * consumes (in a 'mixed' room its video only: its audio is the owner's to mix).
   */
  addSource(participant: string, element: MediaElement): void {
    this.assertOpen();
    if (this.members.has(participant) || this.sources.has(participant)) throw new MediaError('INVALID_STATE', `${participant} is already in this room`);
    const bridge = new TransportBridge(this.pipeline);
    this.sources.set(participant, bridge);
    bridge.on('producer', (producer) => {
      if (!this.forwarded(producer)) return;
      for (const member of this.members.values()) this.consume(member, producer, participant);
    });
    if (this.audio === 'mixed') element.connect(bridge, 'video');
    else element.connect(bridge);
  }

  /**
   * `participant`'s receiving connection failed: the server offers it as ICE-lite, so the
   * client cannot restart its ICE. It gets a fresh receiving transport carrying the same
   * producers (new consumers, whose first packets wait for a keyframe), offered at once:
   * the offer's other ICE credentials tell the client to answer on a new connection.
   */
  restartReceiving(participant: string): void {
    this.assertOpen();
    const member = this.members.get(participant);
    if (!member) throw new MediaError('INVALID_STATE', `${participant} has not published in this room`);
    const carried = [...member.consumers].map(([consumer, from]) => ({ producer: consumer.producer, from }));
    const old = member.recv;
    this.retireAnswered(member);
    member.recv = new WebRtcTransport(this.transportOptions);
    member.consumers.clear();
    member.offering = false;
    member.offered = false;
    member.stale = false;
    member.pending = undefined;
    old.close();
    for (const { producer, from } of carried) this.consume(member, producer, from);
  }

  /** Sends the offer that waits for `participant`'s answer again (its client may have missed it: a reconnect). */
  repeatOffer(participant: string): void {
    const member = this.members.get(participant);
    if (member?.pending) this.emit('offer', member.id, member.pending.sdp, member.pending.tracks);
  }

  /** Takes `participant` out: its transports (or its source) close, the others stop receiving it. Idempotent. */
  leave(participant: string): void {
    const member = this.members.get(participant);
    if (member) this.remove(member);
    const source = this.sources.get(participant);
    this.sources.delete(participant);
    source?.close();
  }

  /** Closes every member's transports and the room's mix. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const member of [...this.members.values()]) this.remove(member);
    for (const source of this.sources.values()) source.close();
    this.sources.clear();
    this.speakers.close();
    this.levelSources.clear();
    if (this.ownsMixer) this.mixer?.close();
    this.mixer = undefined;
    this.removeAllListeners();
  }

  private createMember(participant: string): Member {
    const send = new WebRtcTransport(this.transportOptions);
    const recv = new WebRtcTransport(this.transportOptions);
    const bridge = new TransportBridge(this.pipeline);
    const member = new Member(participant, send, recv, bridge);
    this.members.set(participant, member);
    send.on('producer', (producer) => this.onProducer(member, producer));
    if (this.audio === 'mixed') {
      // The member's audio goes into the mix; the mix of the others comes back out of the port.
      this.mixer ??= this.pipeline.createComposite({ video: false });
      const port = this.mixer.createHubPort();
      bridge.connect(port, 'audio');
      port.connect(bridge, 'audio');
      member.mixPort = port;
      bridge.on('producer', (mix) => {
        if (mix.kind === 'audio') this.consume(member, mix, null);
      });
    }
    // What the others already send.
    for (const other of this.members.values()) {
      if (other === member) continue;
      for (const producer of other.send.producers.values()) if (this.forwarded(producer)) this.consume(member, producer, other.id);
    }
    for (const [id, source] of this.sources) {
      for (const kind of ['audio', 'video'] as const) {
        const producer = source.output(kind);
        if (producer && this.forwarded(producer)) this.consume(member, producer, id);
      }
    }
    return member;
  }

  /**
   * What `participant` asks of `publisher`'s simulcast video (the size of the tile it
   * shows it in, a layer, or 'off'), for its consumers now and later. Video that is not
   * simulcast is unaffected. INVALID_STATE for a participant not in the room,
   * INVALID_ARGUMENT for a request that is not one (nothing changes then).
   */
  requestLayers(participant: string, publisher: string, request: LayerRequest): void {
    this.assertOpen();
    const member = this.members.get(participant);
    if (!member) throw new MediaError('INVALID_STATE', `${participant} has not published in this room`);
    const consumers = [...member.consumers].filter(([c, from]) => from === publisher && c.simulcast && !c.isClosed).map(([c]) => c);
    // Validated by the first consumer (or by a throwaway check when there is none yet).
    if (consumers.length === 0) validateLayerRequest(request);
    for (const consumer of consumers) consumer.setRequest(request);
    member.layerRequests.set(publisher, request === 'off' ? 'off' : { ...request });
  }

  /**
   * A bitrate toward `participant` set by hand (Infinity: unlimited), which the layer
   * selection of its simulcast consumers keeps within instead of its downlink estimate;
   * undefined (the default) gives it back to the estimate. INVALID_STATE for a
   * participant not in the room.
   */
  setAvailableBitrate(participant: string, bps: number | undefined): void {
    this.assertOpen();
    const member = this.members.get(participant);
    if (!member) throw new MediaError('INVALID_STATE', `${participant} has not published in this room`);
    member.recv.setAvailableBitrate(bps);
  }

  private onProducer(owner: Member, producer: Producer): void {
    if (producer.layers.length > 0) {
      const rids = producer.layers.map((l) => l.rid!);
      producer.on('layers', (active) => {
        if (this.members.get(owner.id) === owner) this.emit('layers', owner.id, producer.mid, rids, active);
      });
    }
    owner.bridge.attach(producer);
    this.followLevels(owner, producer);
    if (!this.forwarded(producer)) return;
    for (const member of this.members.values()) if (member !== owner) this.consume(member, producer, owner.id);
  }

  /** A member's audio producer that carries levels speaks for it in the active speaker detection (in mixed rooms too). */
  private followLevels(owner: Member, producer: Producer): void {
    if (!producer.carriesAudioLevels) return;
    this.levelSources.set(owner.id, producer);
    this.speakers.add(owner.id, () => producer.readAudioLevel()!);
    producer.on('close', () => {
      if (this.levelSources.get(owner.id) !== producer) return;
      this.levelSources.delete(owner.id);
      this.speakers.remove(owner.id);
    });
  }

  /** The consumers of the active speaker's media are served first in their receivers' layer selection. */
  private markSpeaker(speaker: string | null): void {
    for (const member of this.members.values()) for (const [consumer, from] of member.consumers) consumer.setSpeaker(from !== null && from === speaker);
  }

  /** In a mixed room audio reaches the others only through the mix. */
  private forwarded(producer: Producer): boolean {
    return !(this.audio === 'mixed' && producer.kind === 'audio');
  }

  private consume(member: Member, producer: Producer, from: string | null): void {
    if (member.recv.isClosed || producer.isClosed) return;
    const consumer = member.recv.consume(producer, { streamId: streamIdOf(from) });
    member.consumers.set(consumer, from);
    const request = from === null ? undefined : member.layerRequests.get(from);
    if (request !== undefined && consumer.simulcast) consumer.setRequest(request);
    if (from !== null && from === this.speakers.speaker) consumer.setSpeaker(true);
    consumer.on('close', () => {
      member.consumers.delete(consumer);
      if (!member.recv.isClosed) this.renegotiate(member);
    });
    this.renegotiate(member);
  }

  /** Offers the member's receiving transport at the end of this turn, or after the answer to the offer that is out. */
  private renegotiate(member: Member): void {
    if (member.scheduled) return;
    member.scheduled = true;
    queueMicrotask(() => {
      member.scheduled = false;
      this.offerNow(member);
    });
  }

  private offerNow(member: Member): void {
    if (this.closed || member.recv.isClosed || this.members.get(member.id) !== member) return;
    if (member.offering) {
      member.stale = true;
      return;
    }
    if (member.consumers.size === 0) {
      // Nothing (left) to receive. An offer rejecting every m-line would end the client's
      // BUNDLE transport, and a later m-line would need a new DTLS session: the next
      // consumer goes on a fresh receiving transport instead (its offer has other ICE
      // credentials, which tell the client to answer on a new connection).
      if (member.offered) this.renewReceiving(member);
      return;
    }
    member.stale = false;
    member.offering = true;
    member.offered = true;
    const sdp = member.recv.createOffer();
    const tracks: RoomTrack[] = [...member.consumers].map(([consumer, participant]) => ({ mid: consumer.mid, kind: consumer.kind, participant }));
    member.pending = { sdp, tracks };
    this.emit('offer', member.id, sdp, tracks);
  }

  private renewReceiving(member: Member): void {
    const old = member.recv;
    this.retireAnswered(member);
    member.recv = new WebRtcTransport(this.transportOptions);
    member.offered = false;
    member.stale = false;
    member.pending = undefined;
    old.close();
  }

  /** The client connection that answered on the receiving transport being replaced: its late answers are stale. */
  private retireAnswered(member: Member): void {
    if (member.answeredUfrag === undefined) return;
    member.retiredUfrags.push(member.answeredUfrag);
    if (member.retiredUfrags.length > 8) member.retiredUfrags.shift();
    member.answeredUfrag = undefined;
  }

  /** A fresh sending transport (the client publishes from a new connection); the old one's producers close with it. */
  private renewSending(member: Member): void {
    const old = member.send;
    member.send = new WebRtcTransport(this.transportOptions);
    member.send.on('producer', (producer) => this.onProducer(member, producer));
    member.sendFingerprint = undefined;
    old.close();
  }

  private remove(member: Member): void {
    if (this.members.get(member.id) !== member) return;
    this.members.delete(member.id);
    this.levelSources.delete(member.id);
    this.speakers.remove(member.id);
    for (const other of this.members.values()) other.layerRequests.delete(member.id);
    member.mixPort?.close();
    member.bridge.close();
    // Its producers close with the sending transport, and their consumers in the others with them.
    member.recv.close();
    member.send.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new MediaError('OBJECT_CLOSED', 'the room is closed');
  }
}

/** The first a=ice-ufrag of an SDP. */
function iceUfragOf(sdp: string): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
}

/** The first a=fingerprint value of an SDP, upper case. */
function fingerprintOf(sdp: string): string | undefined {
  return /^a=fingerprint:\S+ (\S+)/m.exec(sdp)?.[1]?.toUpperCase();
}

/** The msid stream id of a consumer: the participant, in the characters msid allows. */
function streamIdOf(participant: string | null): string {
  return participant === null ? 'mix' : participant.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'participant';
}
