import type { CallId, CallMedia, ChatMessage, ContactInfo, ConversationId, ConversationInfo, PeerState, Topology, DeviceId, RecordingId, RecordingInfo, RoomMessage, RoomName, UserId, UserInfo, UserSettings } from '@roundtable/protocol';
import type { IceServerLike } from './platform.js';

/*
 * The results of the requests the SDK makes. They mirror @roundtable/signaling's
 * ResultMap, which should move into @roundtable/protocol; the client core cannot
 * depend on the server package.
 */

export interface SessionResult {
  userId: UserId;
  token: string;
  deviceId: DeviceId;
  expiresAt: number;
  user: UserInfo;
}

export interface ClientResultMap {
  register: SessionResult;
  login: SessionResult;
  hello: { userId: UserId; deviceId: DeviceId; expiresAt: number; user: UserInfo };
  logout: Record<string, never>;
  'users.find': UserInfo;
  /** The known users among the ids asked for (unknown ids are left out). */
  'users.get': UserInfo[];
  /** 'requested': the other side must accept; 'contacts': you are contacts now. */
  'contacts.add': { status: 'requested' | 'contacts' };
  /** Each with whether they are online now. */
  'contacts.list': ContactInfo[];
  'contacts.requests': { incoming: UserInfo[]; outgoing: UserInfo[] };
  'contacts.accept': UserInfo;
  'contacts.decline': Record<string, never>;
  'blocks.add': Record<string, never>;
  'blocks.remove': Record<string, never>;
  'blocks.list': UserInfo[];
  'settings.get': UserSettings;
  'settings.set': UserSettings;
  'conversations.direct': ConversationInfo;
  'conversations.createGroup': ConversationInfo;
  /** Most recently active first. */
  'conversations.list': ConversationInfo[];
  'messages.send': ChatMessage;
  /** Oldest first. */
  'messages.history': ChatMessage[];
  'ice.servers': { iceServers: IceServerLike[]; expiresAt: number | null };
  /** `invitees`: who is being rung (servers before this field was added leave it out). */
  'call.start': { callId: CallId; invitees?: UserId[]; media?: CallMedia; ended?: 'busy'; ignored?: true };
  'call.answer': { callId: CallId; participants: UserId[] };
  'call.invite': { callId: CallId; invited: UserId[] };
  'call.rejoin': { callId: CallId; conversationId: ConversationId | null; initiator: UserId; audioOnly: boolean; topology: Topology; media: CallMedia; group: boolean; participants: UserId[]; ringing: UserId[] };
  /** The watched users online now. */
  'presence.watch': { online: UserId[] };
  /** `messages`: the room's chat so far, oldest first (servers before the room chat leave it out). */
  'room.join': { room: RoomName; participants: UserId[]; messages?: RoomMessage[] };
  'room.message': RoomMessage;
  'room.leave': Record<string, never>;
  'call.record': { recordingId: RecordingId };
  'room.record': { recordingId: RecordingId };
  /** The recordings you may see (you were in the call or room while it was recorded). */
  'recordings.list': RecordingInfo[];
  /** A signed download link (a path on the signaling server's HTTP origin), valid until `expiresAt`. */
  'recordings.link': { url: string; expiresAt: number };
  'recordings.delete': Record<string, never>;
  /** Your state as the others now see it. */
  'call.state': { state: PeerState };
  'room.state': { state: PeerState };
  'call.react': Record<string, never>;
  'room.react': Record<string, never>;
}
