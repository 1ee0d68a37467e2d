import type { IceCandidateInit, VideoQuality } from '@roundtable/protocol';

/**
 * What signaling needs from a media server: rooms in which each participant has one
 * sending and one receiving connection (the bundled words: publish, and the server's
 * offers on the receiving connection), or, in the seed's words (the Kurento group-call
 * model), one uplink and one downlink per other participant. Implemented in process over
 * @roundtable/media (both), and remotely over the Kurento Protocol (the seed's words
 * only), so signaling never touches media objects itself.
 */
export interface MediaServer {
  /**
   * in-process: this thread's engine; workers: media worker threads; remote: over the
   * Kurento Protocol; nodes: media nodes found in Redis (each room on one of them, moved
   * to another when its node stops: a room's onClosed may then be followed by a
   * createRoom() that lands elsewhere).
   */
  readonly kind: 'in-process' | 'workers' | 'remote' | 'nodes';
  createRoom(label: string, options?: RoomOptions): Promise<MediaRoom>;
  /** True when it can take new rooms (for /readyz). */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * How a room carries audio. 'forwarded' (the default): each downlink carries its
 * sender's audio, as it carries its video. 'mixed' (hybrid media): the server mixes the
 * audio (a Composite); each participant receives ONE audio stream, the mix of all the
 * others, back on its uplink connection (so the uplink's audio must be sendrecv), and
 * downlinks carry video only.
 */
export type RoomAudio = 'forwarded' | 'mixed';

export interface RoomOptions {
  /** Default 'forwarded'. */
  audio?: RoomAudio;
}

/** A local ICE candidate of one endpoint: `participant`'s link for `sender`'s media. */
export interface RoomCandidate {
  participant: string;
  /** Whose media the endpoint carries: the participant itself for its uplink. */
  sender: string;
  candidate: IceCandidateInit;
}

/** One m-line of a participant's receiving connection: whose media it carries (null: the room's audio mix). */
export interface RoomTrack {
  mid: string;
  kind: 'audio' | 'video';
  participant: string | null;
}

/** The media server's offer on `participant`'s receiving connection (bundled rooms). */
export interface RoomOffer {
  participant: string;
  sdp: string;
  tracks: RoomTrack[];
}

/**
 * Who speaks in a bundled room, from the audio levels the participants' own audio
 * carries (RFC 6464), as the media server measures them: sent when the dominant speaker
 * or a level changes (at most every 200 ms).
 */
export interface RoomSpeakers {
  /** The dominant speaker, or null when nobody speaks. */
  speaker: string | null;
  /** Each participant's level of the last period (linear, 0-1, as getStats' audioLevel), for those whose audio carries levels. */
  levels: Record<string, number>;
}

/** Recording a whole room into one file (docs/recording.md). */
export interface RoomRecordingOptions {
  /** Absolute path of the WebM file, on the media server's disk. */
  path: string;
  /** Record a video grid of everyone too; false: audio only. Default true. */
  video?: boolean;
}

/** How a room recording ended: the file is complete, or failed (it may be partial). */
export interface RoomRecordingResult {
  path: string;
  ok: boolean;
  error?: string;
}

/**
 * What a participant asks of a publisher's simulcast video: at most a layer (0: the
 * lowest), or at most a size (the tile it shows it in), and whether it pinned it (served
 * first when its downlink is short); 'off': none.
 */
export type RoomVideoRequest = { maxLayer?: number; maxWidth?: number; maxHeight?: number; pinned?: boolean } | 'off';

/** The media server's request for a quality a client asked for (`subscribeQuality`): 'low', 'medium', 'high' are layers 0, 1 and the highest. */
export function videoRequestOf(quality: VideoQuality): RoomVideoRequest {
  if (quality === 'off') return 'off';
  if (quality === 'low') return { maxLayer: 0 };
  if (quality === 'medium') return { maxLayer: 1 };
  if (quality === 'high') return {};
  const request: { maxWidth?: number; maxHeight?: number; pinned?: boolean } = {};
  if (quality.maxWidth !== undefined) request.maxWidth = quality.maxWidth;
  if (quality.maxHeight !== undefined) request.maxHeight = quality.maxHeight;
  if (quality.pinned === true) request.pinned = true;
  return request;
}

/** Which simulcast layers of `participant`'s video on m-line `mid` someone takes (`active[i]` for `rids[i]`). */
export interface RoomLayers {
  participant: string;
  mid: string;
  rids: string[];
  active: boolean[];
}

export interface MediaRoom {
  readonly label: string;
  readonly audio: RoomAudio;
  /**
   * Whether the room serves the bundled words: publish(), onOffer() and
   * subscribeAnswer(). False on the remote media server (the seed's words only).
   */
  readonly bundled: boolean;
  /** Adds a participant (its media is made when it first publishes or sends receiveVideoFrom). Idempotent. */
  join(participant: string): Promise<void>;
  /**
   * Bundled: takes the offer of `participant`'s sending connection (all its tracks) and
   * returns the answer. Its tracks reach every other participant's receiving connection,
   * which the media server then offers again (onOffer). With `renew`, the offer comes
   * from a new sending connection: it gets a new sending transport.
   */
  publish(participant: string, sdpOffer: string, options?: PublishOptions): Promise<string>;
  /** Bundled: `participant`'s answer to the last offer on its receiving connection. */
  subscribeAnswer(participant: string, sdpAnswer: string): Promise<void>;
  /**
   * Bundled: `participant`'s receiving connection failed (ICE restart cannot be taken on a
   * connection the server offers as ICE-lite): a fresh receiving transport with the same
   * tracks, offered at once (onOffer) with other ICE credentials.
   */
  restartReceiving(participant: string): Promise<void>;
  /** Bundled: tells onOffer listeners again of the offer that waits for `participant`'s answer, if one does (its device reconnected and may have missed it). */
  repeatOffer(participant: string): Promise<void>;
  /** Bundled: told of every offer on a receiving connection (a participant's tracks came or went). */
  onOffer(listener: (offer: RoomOffer) => void): void;
  /** Bundled: told when the dominant speaker or a level changes (never on the remote media server, which measures no levels). */
  onSpeakers(listener: (speakers: RoomSpeakers) => void): void;
  /**
   * Bundled: what `participant` asks of `publisher`'s simulcast video (kept for its later
   * consumers too). INVALID_STATE when `participant` has not published yet; a no-op on the
   * remote media server (no simulcast there).
   */
  requestVideo(participant: string, publisher: string, request: RoomVideoRequest): Promise<void>;
  /** Bundled: told when the simulcast layers someone takes of a participant's video change (ask its client to pause the others). */
  onLayers(listener: (layers: RoomLayers) => void): void;
  /** Server-side media connections open in the room (transports and endpoints), for tests and diagnostics. */
  connectionCount(): Promise<number>;
  /**
   * Negotiates the endpoint carrying `sender`'s media to `participant` (its uplink when
   * sender === participant) and returns the SDP answer. With `loopback`, a participant's
   * uplink is sent back to itself.
   */
  receiveVideoFrom(participant: string, sender: string, sdpOffer: string, options?: { loopback?: boolean }): Promise<string>;
  addIceCandidate(participant: string, sender: string, candidate: IceCandidateInit): Promise<void>;
  /** Removes a participant: its uplink and every downlink from or to it. */
  leave(participant: string): Promise<void>;
  participants(): string[];
  onCandidate(listener: (c: RoomCandidate) => void): void;
  /**
   * Records the room into one file: every participant's uplink (also of those who join
   * later) goes into a Composite whose mix (audio, and a video grid) is recorded.
   * Rejects when already recording or when the file cannot be written.
   */
  startRecording(options: RoomRecordingOptions): Promise<void>;
  /** Stops recording; resolves once the file is complete. Nothing happens when not recording. */
  stopRecording(): Promise<RoomRecordingResult | undefined>;
  readonly recording: boolean;
  /** Told once per recording when it ends: stopRecording(), close() or a failure. */
  onRecordingEnded(listener: (result: RoomRecordingResult) => void): void;
  /**
   * Told once when the room ends without close() being called: the media server lost it
   * (its media worker stopped, the remote media server forgot the session). `reason` says
   * why, for logs. The room is closed by then: its calls fail, leave() does nothing.
   */
  onClosed(listener: (reason: string) => void): void;
  /** Releases every endpoint of the room (a recording is finished first). Idempotent. */
  close(): Promise<void>;
}

/** How a publish is taken. */
export interface PublishOptions {
  /** The offer comes from a new sending connection of the client (its old one failed): a new sending transport takes it. Default false. */
  renew?: boolean;
}
