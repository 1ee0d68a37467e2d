/** Messages between the bench orchestrator and its load-generator worker processes (over the Node IPC channel). */
import type { Kind, TrafficOptions } from './traffic.js';

/** The group-call words of Roundtable participants (see JoinCommand.roundtableWords). */
export type RoundtableWords = 'seed' | 'bundled';

/**
 * What each receiver of a simulcast load asks of every publisher's video (Roundtable:
 * `subscribeQuality`; Janus: the substream of its subscription):
 * 'none' asks nothing (the server's choice: the highest layer the downlink carries); a level
 * asks it of everyone; 'mixed' asks low, medium and high by the receiver's place in its
 * room (index mod 3), so each publisher's three layers are taken.
 */
export const SIMULCAST_REQUESTS = ['mixed', 'none', 'low', 'medium', 'high'] as const;
export type SimulcastRequest = (typeof SIMULCAST_REQUESTS)[number];

/** Where the participants of one run connect. */
export type TargetEndpoint =
  | { kind: 'roundtable'; signalingUrl: string }
  | { kind: 'janus'; wsUrl: string }
  | { kind: 'floor'; host: string; port: number };

export interface ParticipantSpec {
  /** Unique within the run; written in every packet. */
  id: number;
  /** 0-based room index. */
  room: number;
  /** 0-based position in the room. */
  index: number;
  /**
   * Account to sign in with (registered on first use, then logged in to): the soak's
   * people come back under the same name. Default: a new account per participant.
   */
  username?: string;
}

export interface JoinCommand {
  type: 'join';
  run: number;
  endpoint: TargetEndpoint;
  participants: ParticipantSpec[];
  /** Participants per room (to know how many remote streams to expect). */
  roomSize: number;
  /** Participant ids of this run are idBase + room * roomSize + index. */
  idBase: number;
  traffic: TrafficOptions;
  /** Participant k (over all rooms) starts joining k * joinStaggerMs after the command. */
  joinStaggerMs: number;
  /** Downlinks unprotect SRTP with the engine's native-crypto SRTP instead of werift's stack. */
  fastReceive: boolean;
  /**
   * Roundtable: the group-call words participants speak. 'bundled': one sending and one
   * receiving connection each (publish, answering the server's subscribeOffer), when the
   * server announces them (existingParticipants.bundled), the seed's words otherwise (an
   * older revision); 'seed': receiveVideoFrom per sender (1 + N-1 connections each).
   */
  roundtableWords: RoundtableWords;
  /** Local address for every socket (the namespace's address). */
  host: string;
  /**
   * Rooms whose members come and go (the soak): a participant does not expect a fixed set
   * of remote streams, and records the first packet of every sender it ever hears.
   * Default false (the bench: fixed rooms of `roomSize`).
   */
  openMembership?: boolean;
  /** Roundtable room names are `${roomPrefix}-${room}`. Default `bench-${run}`. */
  roomPrefix?: string;
  /** A simulcast load (traffic.simulcast): what receivers ask of each publisher's video. Default 'none'. */
  simulcastRequest?: SimulcastRequest;
}

/** The soak: participants that join the running ones (churn), rather than replacing them. */
export type AddCommand = Omit<JoinCommand, 'type'> & { type: 'add' };

/** What one participant of a worker has heard so far (the soak compares it with who is in its room). */
export interface ParticipantStatus {
  id: number;
  room: number;
  /** Whether its join (sign-in, room.join, uplink offer) finished. */
  joined: boolean;
  /** `${sender}:${kind}` of every remote stream it received at least one packet of. */
  streams: string[];
  errors: string[];
  /** Its peer connections to the server now. */
  connections: number;
  /** Roundtable: it speaks the bundled words (the server announced them and the run asked for them). */
  bundled?: boolean;
}

export type ParentMessage =
  | JoinCommand
  | AddCommand
  /** The soak: these participants leave (room.leave, then their peer connections close). */
  | { type: 'remove'; ids: number[] }
  /** The soak: one present participant of `room` sends this signaling request (e.g. room.record). */
  | { type: 'roomRequest'; room: number; request: string; fields: Record<string, unknown> }
  /** Janus: subscribe to the other feeds once every publisher published. */
  | { type: 'subscribe' }
  | { type: 'status' }
  | { type: 'window'; startUs: number; endUs: number }
  | { type: 'collect' }
  | { type: 'leave' }
  | { type: 'exit' };

export interface JoinInfo {
  id: number;
  /** The other participants of its room. */
  remotes: number[];
  startUs: number;
  firstPacketUs: Record<string, number>;
}

export interface DownlinkCount {
  receiver: number;
  sender: number;
  kind: Kind;
  received: number;
  /** Packets of the window received a second time (the same bench sequence number): sent twice by the server, or retransmitted after they had arrived. Not in `received`. */
  duplicates: number;
  /** Simulcast video: packets of `received` by the layer they were sent on (index, lowest 0). */
  layers?: number[];
}

export interface WorkerReport {
  /** Packets sent in the window, by `${sender}:${kind}` (a simulcast layer's by `${sender}:${kind}:${layer}`). */
  sent: Record<string, number>;
  downlinks: DownlinkCount[];
  /** Packets and bytes (payload + RTP header) received in the window, each packet once (duplicates are in `duplicatePackets`). */
  receivedPackets: number;
  duplicatePackets: number;
  receivedBytes: number;
  sentPackets: number;
  sentBytes: number;
  /** Delay histogram: bucket (100 µs) -> count. */
  delayHistogram: Record<string, number>;
  /** Event-loop delay of the worker during the window (ms): a starved generator sends late and reads late. */
  loopDelayP99Ms: number;
  /** Per participant: when it sent its join request, and when the first packet of each remote stream (`${sender}:${kind}`) came (µs, monotonic). */
  joins: JoinInfo[];
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'joined'; error?: string }
  | { type: 'subscribed'; error?: string }
  | { type: 'status'; streamsFlowing: number; streamsExpected: number; errors: string[]; participants: ParticipantStatus[] }
  | { type: 'report'; report: WorkerReport }
  | { type: 'left' }
  | { type: 'removed' }
  /** `error` when no participant of the room could send it, or the server refused it. */
  | { type: 'roomAnswer'; result?: Record<string, unknown>; error?: string };

export const DELAY_BUCKET_US = 100;
