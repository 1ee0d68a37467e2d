import { pathToFileURL } from 'node:url';
import type { Composite, HubPort, MediaPipeline, RecorderEndpoint, WebRtcEndpoint } from '@roundtable/kurento/client';
import type { IceCandidateInit } from '@roundtable/protocol';
import type { Logger } from '../logger.js';
import { SignalingError } from '../net/Handlers.js';
import type { MediaRoom, RoomAudio, RoomRecordingResult, RoomRecordingOptions } from './MediaServer.js';
import { RoomLinks } from './RoomLinks.js';
import { ListenedRoom } from './RoomListeners.js';

/**
 * A room of Kurento endpoints, for a media server that has only the Kurento Protocol's
 * objects (a Kurento Media Server): the seed's words, an uplink per participant and a
 * downlink per (receiver, sender). A Roundtable media node hosts the room itself instead
 * (RoomProxy over the node's room calls: two transports per participant).
 */
export class KurentoRoom extends ListenedRoom implements MediaRoom {
  /** The seed's words only: the Kurento Protocol has endpoints, not the engine's transports (docs/architecture.md). */
  readonly bundled = false;
  private readonly links = new RoomLinks<Promise<WebRtcEndpoint>>();
  /** The audio mix of a 'mixed' room (a Composite on the media server), and each participant's port. */
  private mixer: Promise<Composite> | undefined;
  private readonly mixPorts = new Map<string, Promise<HubPort>>();
  /** The recording: a Composite of every uplink whose output port feeds a recorder, on the media server. */
  private rec: { composite: Composite; recorder: RecorderEndpoint; path: string; ports: Map<string, Promise<HubPort>> } | undefined;

  constructor(
    label: string,
    readonly audio: RoomAudio,
    private readonly pipeline: MediaPipeline,
    private readonly onGone: () => void,
    log: Logger,
  ) {
    // It never offers, measures no levels and does no simulcast: no offer, speakers or layers events.
    super(label, log);
  }

  async join(participant: string): Promise<void> {
    this.assertOpen();
    if (this.links.has(participant)) return;
    const ep = this.endpoint(participant, participant, {});
    this.links.addUplink(participant, ep);
    if (this.audio === 'mixed') {
      // The uplink's audio goes into the mix; the mix of the others comes back on it.
      const mixer = (this.mixer ??= media(() => this.pipeline.createComposite()));
      const port = media(async () => {
        const p = await (await mixer).createHubPort();
        const uplink = await ep;
        await uplink.connect(p, 'AUDIO');
        await p.connect(uplink, 'AUDIO');
        return p;
      });
      this.mixPorts.set(participant, port);
      await port;
    }
    await ep;
    if (this.rec) await this.addToRecording(participant, ep);
  }

  async receiveVideoFrom(participant: string, sender: string, sdpOffer: string, options: { loopback?: boolean } = {}): Promise<string> {
    this.assertOpen();
    const ep = await this.linkFor(participant, sender, true);
    return media(async () => {
      if (sender === participant && options.loopback) await ep.connect(ep);
      const answer = await ep.processOffer(sdpOffer);
      await ep.gatherCandidates();
      return answer;
    });
  }

  async addIceCandidate(participant: string, sender: string, candidate: IceCandidateInit): Promise<void> {
    this.assertOpen();
    const ep = await this.linkFor(participant, sender, false);
    await media(() => ep.addIceCandidate({ candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? '', sdpMLineIndex: candidate.sdpMLineIndex ?? 0 }));
  }

  async leave(participant: string): Promise<void> {
    const recPort = this.rec?.ports.get(participant);
    this.rec?.ports.delete(participant);
    await (await recPort?.catch(() => undefined))?.release().catch(() => undefined);
    const port = this.mixPorts.get(participant);
    this.mixPorts.delete(participant);
    await (await port?.catch(() => undefined))?.release().catch(() => undefined);
    const doomed = this.links.remove(participant);
    await Promise.all(doomed.map(async (p) => (await p.catch(() => undefined))?.release().catch(() => undefined)));
  }

  async publish(): Promise<string> {
    throw new SignalingError('INVALID_STATE', 'this media server takes the seed\'s words only (receiveVideoFrom per sender)');
  }

  async subscribeAnswer(): Promise<void> {
    throw new SignalingError('INVALID_STATE', 'this media server takes the seed\'s words only (receiveVideoFrom per sender)');
  }

  async restartReceiving(): Promise<void> {
    throw new SignalingError('INVALID_STATE', 'this media server takes the seed\'s words only (receiveVideoFrom per sender)');
  }

  async repeatOffer(): Promise<void> {
    // Nothing is ever offered by the media server here.
  }

  async requestVideo(): Promise<void> {
    // Kurento Media Server does no simulcast: every receiver gets the one stream.
  }

  async connectionCount(): Promise<number> {
    return this.links.endpointCount();
  }

  participants(): string[] {
    return this.links.participants();
  }

  get recording(): boolean {
    return this.rec !== undefined;
  }

  async startRecording(options: RoomRecordingOptions): Promise<void> {
    this.assertOpen();
    if (this.rec) throw new SignalingError('INVALID_STATE', `room ${this.label} is already being recorded`);
    const video = options.video ?? true;
    const composite = await media(() => this.pipeline.createComposite());
    try {
      const recorder = await media(() =>
        this.pipeline.createRecorderEndpoint({ uri: pathToFileURL(options.path).href, mediaProfile: video ? 'WEBM' : 'WEBM_AUDIO_ONLY' }),
      );
      // The output port has no input: it carries the mix of everyone (and the grid).
      await media(async () => (await composite.createHubPort()).connect(recorder));
      this.rec = { composite, recorder, path: options.path, ports: new Map() };
      for (const participant of this.links.participants()) await this.addToRecording(participant, this.links.linkFor(participant, participant));
      await media(() => recorder.record());
    } catch (error) {
      this.rec = undefined;
      await composite.release().catch(() => undefined);
      throw error;
    }
  }

  async stopRecording(): Promise<RoomRecordingResult | undefined> {
    const rec = this.rec;
    if (!rec) return undefined;
    this.rec = undefined;
    let result: RoomRecordingResult = { path: rec.path, ok: true };
    try {
      await rec.recorder.stopAndWait();
    } catch (error) {
      result = { path: rec.path, ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    await rec.recorder.release().catch(() => undefined);
    await rec.composite.release().catch(() => undefined);
    this.listeners.emit('recordingEnded', result);
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onGone();
    await this.stopRecording().catch(() => undefined);
    await this.pipeline.release().catch(() => undefined);
  }

  /** The media server lost the room's pipeline. */
  lost(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.rec) {
      const result: RoomRecordingResult = { path: this.rec.path, ok: false, error: reason };
      this.rec = undefined;
      this.listeners.emit('recordingEnded', result);
    }
    this.listeners.emit('closed', reason);
  }

  private async addToRecording(participant: string, uplink: Promise<WebRtcEndpoint>): Promise<void> {
    const rec = this.rec;
    if (!rec) return;
    const port = media(async () => {
      const p = await rec.composite.createHubPort();
      await (await uplink).connect(p);
      return p;
    });
    rec.ports.set(participant, port);
    await port;
  }

  private async linkFor(participant: string, sender: string, create: boolean): Promise<WebRtcEndpoint> {
    return this.links.linkFor(
      participant,
      sender,
      create
        ? (source) =>
            this.endpoint(participant, sender, { sendonly: true }).then(async (down) => {
              // In a mixed room, the sender's audio reaches others only through the mix.
              if (this.audio === 'mixed') await (await source).connect(down, 'VIDEO');
              else await (await source).connect(down);
              return down;
            })
        : undefined,
    );
  }

  private async endpoint(participant: string, sender: string, options: { sendonly?: boolean }): Promise<WebRtcEndpoint> {
    const ep = await media(() => this.pipeline.createWebRtcEndpoint(options));
    await ep.on('IceCandidateFound', (event) => {
      const c = event.candidate;
      this.listeners.emit('candidate', { participant, sender, candidate: { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } });
    });
    return ep;
  }

}

/** Runs a media-server call, reporting its failure as MEDIA_ERROR. */
async function media<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof SignalingError) throw error;
    throw new SignalingError('MEDIA_ERROR', `media server: ${error instanceof Error ? error.message : String(error)}`);
  }
}
