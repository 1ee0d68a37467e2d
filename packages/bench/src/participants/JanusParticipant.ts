import type { RTCPeerConnection } from 'werift';
import type { PlannedPacket } from '../traffic.js';
import { receiveRtp } from './fastReceive.js';
import { JsonSocket, PendingRequests } from './JsonSocket.js';
import { Participant } from './Participant.js';
import { SimulcastUplink, createSimulcastPeer } from './SimulcastUplink.js';
import { UplinkTracks, createPeer, gatheringComplete, waitConnected } from './weriftPeer.js';

/** Janus VideoRoom room ids the bench writes into the plugin's config: room r is FIRST_ROOM + r. */
export const JANUS_FIRST_ROOM = 1000;

/** Feed ids are unique per run, so that a feed still being torn down never clashes. */
export function janusFeedId(participantId: number): number {
  return participantId + 1;
}

/**
 * A participant of a Janus VideoRoom through Janus's WebSocket API, as janus.js does it
 * in a group call: one session, one publisher handle (join + publish, send-only), and
 * one multistream subscriber handle carrying every other feed of the room.
 */
export class JanusParticipant extends Participant {
  private socket: JsonSocket | undefined;
  private readonly transactions = new PendingRequests<string>();
  private nextTransaction = 1;
  private session = 0;
  private publisherHandle = 0;
  private subscriberHandle = 0;
  private publisher: RTCPeerConnection | undefined;
  private subscriber: RTCPeerConnection | undefined;
  private readonly uplink = new UplinkTracks();
  /** A simulcast load (traffic.simulcast): the video goes out as three layers. */
  private readonly simulcast: SimulcastUplink | undefined;
  private keepalive: NodeJS.Timeout | undefined;

  constructor(...args: ConstructorParameters<typeof Participant>) {
    super(...args);
    const layers = this.context.command.traffic.simulcast;
    this.simulcast = layers?.length ? new SimulcastUplink(layers) : undefined;
  }

  private get room(): number {
    return JANUS_FIRST_ROOM + this.spec.room;
  }

  protected async connect(): Promise<void> {
    const endpoint = this.context.command.endpoint;
    if (endpoint.kind !== 'janus') throw new Error('not a Janus endpoint');
    this.socket = await JsonSocket.open(endpoint.wsUrl, 'janus-protocol', (frame) => this.onFrame(frame));
    const created = await this.janus({ janus: 'create' });
    this.session = Number((created['data'] as { id: number }).id);
    this.keepalive = setInterval(() => this.socket?.send({ janus: 'keepalive', session_id: this.session, transaction: `k${this.nextTransaction++}` }), 20_000);
    this.publisherHandle = await this.attach();
    const joined = await this.message(this.publisherHandle, { request: 'join', ptype: 'publisher', room: this.room, id: janusFeedId(this.id), display: `p${this.id}` });
    pluginData(joined, 'joined');

    const { host } = this.context.command;
    const pc = this.simulcast ? createSimulcastPeer(host, this.context.stunUrl) : createPeer(host, this.context.stunUrl);
    this.publisher = pc;
    if (this.simulcast) this.simulcast.attach(pc, (layer) => this.keyframeRequested(layer));
    else this.uplink.attach(pc, () => this.keyframeRequested());
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.startPublishing();
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    const published = await this.message(this.publisherHandle, { request: 'publish', audio: true, video: true }, { type: 'offer', sdp: this.simulcast ? SimulcastUplink.offer(pc.localDescription!.sdp) : pc.localDescription!.sdp, trickle: false });
    const jsep = published['jsep'] as { type: 'answer'; sdp: string } | undefined;
    if (!jsep) throw new Error(`Janus publish gave no answer: ${JSON.stringify(published['plugindata'])}`);
    this.simulcast?.accept(jsep.sdp);
    await pc.setRemoteDescription({ type: 'answer', sdp: jsep.sdp });
    // Janus lists a feed for subscribers only once its PeerConnection is up.
    await waitConnected(pc);
  }

  override async subscribe(): Promise<void> {
    this.subscriberHandle = await this.attach();
    const streams = this.remoteIds.map((id) => ({ feed: janusFeedId(id) }));
    let attached = await this.message(this.subscriberHandle, { request: 'join', ptype: 'subscriber', room: this.room, streams });
    // Janus lists a feed a moment after its publisher's PeerConnection is up on our side
    // (error 428, no such feed): ask again, for up to 10 s.
    for (let attempt = 0; attempt < 20 && errorCode(attached) === 428; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      attached = await this.message(this.subscriberHandle, { request: 'join', ptype: 'subscriber', room: this.room, streams });
    }
    const offer = attached['jsep'] as { type: 'offer'; sdp: string } | undefined;
    if (!offer) throw new Error(`Janus subscribe gave no offer: ${JSON.stringify(attached['plugindata'])}`);
    const pc = createPeer(this.context.command.host, this.context.stunUrl);
    this.subscriber = pc;
    receiveRtp(pc, (payload) => this.received(payload), this.context.command.fastReceive);
    await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gatheringComplete(pc);
    await this.message(this.subscriberHandle, { request: 'start', room: this.room }, { type: 'answer', sdp: pc.localDescription!.sdp, trickle: false });
    await this.chooseSubstreams(attached);
  }

  /**
   * A simulcast load: the substream each receiver asks of every feed (simulcastRequest, as
   * Roundtable's receivers ask a level): 0 low, 1 medium, 2 high. 'none' asks nothing
   * (Janus's default substream).
   */
  private async chooseSubstreams(attached: Record<string, unknown>): Promise<void> {
    const request = this.context.command.simulcastRequest ?? 'none';
    if (!this.simulcast || request === 'none') return;
    const substream = request === 'mixed' ? this.spec.index % 3 : ['low', 'medium', 'high'].indexOf(request);
    const data = (attached['plugindata'] as { data?: { streams?: Array<{ mid?: unknown; type?: unknown }> } } | undefined)?.data;
    const streams = (data?.streams ?? []).filter((s) => s.type === 'video' && typeof s.mid === 'string').map((s) => ({ mid: s.mid as string, substream }));
    if (streams.length > 0) await this.message(this.subscriberHandle, { request: 'configure', streams });
  }

  protected connectionCount(): number {
    return (this.publisher ? 1 : 0) + (this.subscriber ? 1 : 0);
  }

  protected transmit(planned: PlannedPacket, payload: Buffer): void {
    if (this.simulcast) this.simulcast.send(planned, payload);
    else this.uplink.send(planned, payload);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    if (this.socket?.isOpen && this.session) {
      await this.janus({ janus: 'destroy', session_id: this.session }).catch(() => undefined);
    }
    this.socket?.close();
    this.transactions.rejectAll(new Error('closed'));
    await this.publisher?.close().catch(() => undefined);
    await this.subscriber?.close().catch(() => undefined);
  }

  private async attach(): Promise<number> {
    const attached = await this.janus({ janus: 'attach', session_id: this.session, plugin: 'janus.plugin.videoroom' });
    return Number((attached['data'] as { id: number }).id);
  }

  /** A plugin message: Janus acks it, then answers with an event carrying the same transaction. */
  private message(handle: number, body: Record<string, unknown>, jsep?: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.janus({ janus: 'message', session_id: this.session, handle_id: handle, body, ...(jsep ? { jsep } : {}) });
  }

  private async janus(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const transaction = `t${this.nextTransaction++}`;
    const answer = this.transactions.wait(transaction, `janus ${String(request['janus'])}`);
    this.socket?.send({ ...request, transaction });
    const frame = await answer;
    if (frame['janus'] === 'error') throw new Error(`Janus error: ${JSON.stringify(frame['error'])}`);
    return frame;
  }

  private onFrame(frame: Record<string, unknown>): void {
    const transaction = frame['transaction'];
    if (frame['janus'] === 'ack' || typeof transaction !== 'string') return;
    this.transactions.settle(transaction, frame);
  }
}

/** The VideoRoom error code of a plugin event, if it is an error. */
function errorCode(frame: Record<string, unknown>): number | undefined {
  const data = (frame['plugindata'] as { data?: { error_code?: number } } | undefined)?.data;
  return data?.error_code;
}

/** The VideoRoom answer of a plugin event; throws on a plugin error. */
function pluginData(frame: Record<string, unknown>, expected: string): Record<string, unknown> {
  const data = ((frame['plugindata'] as { data?: Record<string, unknown> } | undefined)?.data ?? {}) as Record<string, unknown>;
  if (data['videoroom'] !== expected) throw new Error(`Janus VideoRoom: expected '${expected}', got ${JSON.stringify(data)}`);
  return data;
}
