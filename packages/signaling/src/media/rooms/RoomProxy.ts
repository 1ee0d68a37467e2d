import type { IceCandidateInit } from '@roundtable/protocol';
import type { Logger } from '../../logger.js';
import { SignalingError } from '../../net/Handlers.js';
import type { MediaRoom, PublishOptions, RoomAudio, RoomRecordingOptions, RoomRecordingResult, RoomVideoRequest } from '../MediaServer.js';
import { ListenedRoom } from '../RoomListeners.js';
import type { RoomChannel, RoomEvent, RoomId } from './roomCalls.js';

/**
 * A room held elsewhere, on a media worker thread or on a media node, as signaling sees
 * it: every call goes through `channel` to the RoomHost that holds the room (an
 * InProcessMediaServer's room, the one room implementation), whose events come back
 * through event(). It keeps what MediaRoom answers synchronously (participants,
 * recording) from the calls' outcomes and the host's events.
 */
export class RoomProxy extends ListenedRoom implements MediaRoom {
  /** The host's room is an in-process room, which serves both words. */
  readonly bundled = true;
  private readonly members = new Set<string>();
  /** The file being recorded, while recording. */
  private recordingPath: string | undefined;

  constructor(
    readonly id: RoomId,
    label: string,
    readonly audio: RoomAudio,
    private readonly channel: RoomChannel,
    log: Logger,
    private readonly onGone: (room: RoomProxy) => void,
  ) {
    super(label, log);
  }

  async join(participant: string): Promise<void> {
    this.assertOpen();
    if (this.members.has(participant)) return;
    await this.channel.call('join', { roomId: this.id, participant });
    if (!this.closed) this.members.add(participant);
  }

  receiveVideoFrom(participant: string, sender: string, sdpOffer: string, options: { loopback?: boolean } = {}): Promise<string> {
    this.assertOpen();
    return this.channel.call('receiveVideoFrom', { roomId: this.id, participant, sender, sdpOffer, options });
  }

  publish(participant: string, sdpOffer: string, options: PublishOptions = {}): Promise<string> {
    this.assertOpen();
    return this.channel.call('publish', { roomId: this.id, participant, sdpOffer, renew: options.renew === true });
  }

  async subscribeAnswer(participant: string, sdpAnswer: string): Promise<void> {
    this.assertOpen();
    await this.channel.call('subscribeAnswer', { roomId: this.id, participant, sdpAnswer });
  }

  async restartReceiving(participant: string): Promise<void> {
    this.assertOpen();
    await this.channel.call('restartReceiving', { roomId: this.id, participant });
  }

  async repeatOffer(participant: string): Promise<void> {
    if (this.closed) return;
    await this.channel.call('repeatOffer', { roomId: this.id, participant });
  }

  async requestVideo(participant: string, publisher: string, request: RoomVideoRequest): Promise<void> {
    this.assertOpen();
    await this.channel.call('requestVideo', { roomId: this.id, participant, publisher, request });
  }

  async connectionCount(): Promise<number> {
    if (this.closed) return 0;
    return this.channel.call('connectionCount', { roomId: this.id });
  }

  async addIceCandidate(participant: string, sender: string, candidate: IceCandidateInit): Promise<void> {
    this.assertOpen();
    await this.channel.call('addIceCandidate', { roomId: this.id, participant, sender, candidate });
  }

  async leave(participant: string): Promise<void> {
    this.members.delete(participant);
    if (this.closed) return;
    try {
      await this.channel.call('leave', { roomId: this.id, participant });
    } catch (error) {
      // The host stopped meanwhile: the room and the participant are gone anyway.
      if (!this.closed) throw error;
    }
  }

  participants(): string[] {
    return [...this.members];
  }

  get participantCount(): number {
    return this.members.size;
  }

  get recording(): boolean {
    return this.recordingPath !== undefined;
  }

  async startRecording(options: RoomRecordingOptions): Promise<void> {
    this.assertOpen();
    if (this.recordingPath !== undefined) throw new SignalingError('INVALID_STATE', `room ${this.label} is already being recorded`);
    this.recordingPath = options.path;
    try {
      await this.channel.call('startRecording', { roomId: this.id, options });
    } catch (error) {
      this.recordingPath = undefined;
      throw error;
    }
  }

  async stopRecording(): Promise<RoomRecordingResult | undefined> {
    if (this.recordingPath === undefined || this.closed) return undefined;
    // The listeners hear of the end from the host's recordingEnded event, sent before the answer.
    return (await this.channel.call('stopRecording', { roomId: this.id })) ?? undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      // Still registered meanwhile: a recording that closing finishes is reported by an event.
      await this.channel.call('close', { roomId: this.id });
    } catch {
      // A stopped host (a worker, a node) took the room with it.
    }
    this.members.clear();
    this.onGone(this);
  }

  /** An event of the host's room. */
  event(event: RoomEvent): void {
    if (this.closed && event.type !== 'recordingEnded') return;
    switch (event.type) {
      case 'candidate':
        return this.listeners.emit('candidate', event.candidate);
      case 'offer':
        return this.listeners.emit('offer', event.offer);
      case 'speakers':
        return this.listeners.emit('speakers', event.speakers);
      case 'layers':
        return this.listeners.emit('layers', event.layers);
      case 'recordingEnded':
        this.recordingEnded(event.result);
        return;
    }
  }

  private recordingEnded(result: RoomRecordingResult): void {
    this.recordingPath = undefined;
    this.listeners.emit('recordingEnded', result);
  }

  /** The host stopped (a worker died, a media node is gone): the room is gone. A recording ends as failed (its file may be partial). */
  lost(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.members.clear();
    if (this.recordingPath !== undefined) this.recordingEnded({ path: this.recordingPath, ok: false, error: reason });
    this.listeners.emit('closed', reason);
  }


}
