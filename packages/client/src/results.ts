import type { CallId, ConversationInfo, DeviceId, UserId, UserInfo } from '@roundtable/protocol';
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
  'conversations.direct': ConversationInfo;
  'ice.servers': { iceServers: IceServerLike[]; expiresAt: number | null };
  'call.start': { callId: CallId; ended?: 'busy'; ignored?: true };
  'call.answer': { callId: CallId; participants: UserId[] };
}
