import type { MediaKind, OutgoingSlot } from './CallMedia.js';
import { ClientError } from './ClientError.js';
import type { LocalMedia, MediaDevicesLike, SenderLike, TrackLike } from './platform.js';

/** What the app sees of its own media in a call or room. */
export interface LocalMediaState {
  audioMuted: boolean;
  cameraOff: boolean;
  screenSharing: boolean;
  /** The microphone track (sent unless muted). */
  audio: TrackLike | null;
  /** The camera track (sent unless the camera is off, the call is voice-only, or a screen is shared): the local preview. */
  video: TrackLike | null;
  /** The screen being shared, if any (sent instead of the camera). */
  screen: TrackLike | null;
}

export interface LocalTracksCallbacks {
  /** Video is wanted (the call is not voice-only). */
  videoWanted(): boolean;
  changed(state: LocalMediaState): void;
  error(error: unknown): void;
}

/**
 * This device's outgoing media in one call or room: microphone, camera and screen
 * tracks, the mute / camera-off / screen-share state, and the senders they go out on.
 * Every change is applied with replaceTrack (no renegotiation): a muted microphone or a
 * camera that is off sends nothing at all, and is also disabled (`enabled = false`).
 */
export class LocalTracks {
  private mic: TrackLike | null = null;
  private camera: TrackLike | null = null;
  private screen: TrackLike | null = null;
  private muted = false;
  private cameraIsOff = false;
  private senders = new Map<MediaKind, SenderLike>();
  /** Changes are applied one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private readonly onScreenEnded = (): void => void this.stopScreenShare().catch((error: unknown) => this.callbacks.error(error));

  constructor(
    private readonly devices: MediaDevicesLike | undefined,
    private readonly callbacks: LocalTracksCallbacks,
  ) {}

  get state(): LocalMediaState {
    return { audioMuted: this.muted, cameraOff: this.cameraIsOff, screenSharing: this.screen !== null, audio: this.mic, video: this.camera, screen: this.screen };
  }

  /** Takes the app's local media (first audio and first video track). */
  use(media: LocalMedia | undefined): void {
    if (!media) return;
    const tracks = media.getTracks();
    this.mic = tracks.find((t) => t.kind === 'audio') ?? null;
    this.camera = tracks.find((t) => t.kind === 'video') ?? null;
  }

  /** What to send now, per kind. */
  slots(): OutgoingSlot[] {
    return [
      { kind: 'audio', track: this.wanted('audio') },
      { kind: 'video', track: this.wanted('video') },
    ];
  }

  /** The senders of a new sending link; the current state is applied to them. */
  setSenders(senders: Map<MediaKind, SenderLike>): void {
    this.senders = senders;
    this.apply().catch((error: unknown) => this.callbacks.error(error));
  }

  setAudioMuted(muted: boolean): Promise<void> {
    this.muted = muted;
    return this.apply();
  }

  setCameraOff(off: boolean): Promise<void> {
    this.cameraIsOff = off;
    return this.apply();
  }

  /** The call switched voice <-> video: re-apply (video goes or comes back). */
  refresh(): Promise<void> {
    return this.apply();
  }

  /** Replaces the microphone or camera track (e.g. one the app got itself); the old one is stopped unless `stopOld` is false. */
  replaceTrack(kind: MediaKind, track: TrackLike | null, stopOld = true): Promise<void> {
    const old = kind === 'audio' ? this.mic : this.camera;
    if (kind === 'audio') this.mic = track;
    else this.camera = track;
    if (stopOld && old && old !== track) old.stop?.();
    return this.apply();
  }

  /** Opens another microphone or camera (a deviceId from enumerateDevices) and sends it instead. */
  async switchDevice(kind: MediaKind, deviceId: string, stopOld = true): Promise<TrackLike> {
    const devices = this.requireDevices();
    const media = await devices.getUserMedia({ [kind]: { deviceId: { exact: deviceId } } });
    const track = media.getTracks().find((t) => t.kind === kind);
    if (!track) throw new ClientError('MEDIA', `getUserMedia gave no ${kind} track`);
    await this.replaceTrack(kind, track, stopOld);
    return track;
  }

  /** Opens the camera when there is none (a voice call switching to video). Returns whether one is there now. */
  async ensureCamera(): Promise<boolean> {
    if (this.camera) return true;
    if (!this.devices) return false;
    const media = await this.devices.getUserMedia({ video: true });
    const track = media.getTracks().find((t) => t.kind === 'video') ?? null;
    if (track) await this.replaceTrack('video', track);
    return track !== null;
  }

  /** Shares a screen (the browser asks the user which) instead of the camera; resolves with its track. */
  async startScreenShare(): Promise<TrackLike> {
    const devices = this.requireDevices();
    if (!devices.getDisplayMedia) throw new ClientError('MEDIA', 'screen sharing is not available here (no getDisplayMedia)');
    const media = await devices.getDisplayMedia({ video: true });
    const track = media.getTracks().find((t) => t.kind === 'video');
    if (!track) throw new ClientError('MEDIA', 'getDisplayMedia gave no video track');
    this.dropScreen();
    this.screen = track;
    track.addEventListener?.('ended', this.onScreenEnded);
    await this.apply();
    return track;
  }

  /** Stops sharing: the camera goes out again (unless off). Idempotent. */
  async stopScreenShare(): Promise<void> {
    if (!this.screen) return;
    this.dropScreen();
    await this.apply();
  }

  /** Stops the screen capture (the SDK opened it); camera and microphone belong to the app and stay open. */
  close(): void {
    this.dropScreen();
    this.senders = new Map();
  }

  private dropScreen(): void {
    const screen = this.screen;
    if (!screen) return;
    this.screen = null;
    screen.removeEventListener?.('ended', this.onScreenEnded);
    screen.stop?.();
  }

  private wanted(kind: MediaKind): TrackLike | null {
    if (kind === 'audio') return this.muted ? null : this.mic;
    if (this.screen) return this.screen;
    return this.cameraIsOff || !this.callbacks.videoWanted() ? null : this.camera;
  }

  private apply(): Promise<void> {
    if (this.mic && this.mic.enabled !== undefined) this.mic.enabled = !this.muted;
    if (this.camera && this.camera.enabled !== undefined) this.camera.enabled = !this.cameraIsOff && this.callbacks.videoWanted();
    const step = async (): Promise<void> => {
      for (const kind of ['audio', 'video'] as const) {
        const sender = this.senders.get(kind);
        const track = this.wanted(kind);
        if (sender && sender.track !== track) await sender.replaceTrack(track as never);
      }
    };
    const run = this.queue.then(step);
    this.queue = run.catch(() => undefined);
    this.callbacks.changed(this.state);
    return run;
  }

  private requireDevices(): MediaDevicesLike {
    if (!this.devices) throw new ClientError('MEDIA', 'no media devices: pass options.mediaDevices (browsers: navigator.mediaDevices)');
    return this.devices;
  }
}
