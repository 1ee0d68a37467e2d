import type { ChatMessage, ContactInfo, ConversationInfo, DeviceId, RequestType, UserId, UserInfo, UserSettings } from '@roundtable/protocol';
import type { LoginResult } from './auth/AuthService.js';
import type { IceServersResult } from './ice/IceServers.js';

/*
 * The `result` of each successful response, by request type, as docs/signaling-protocol.md
 * states them (some carry a little more than the page lists). These belong in
 * @roundtable/protocol beside the requests (the client SDK needs them too); they live
 * here until they move. Modules add theirs by declaration merging:
 *   declare module '../results.js' { interface ResultMap { 'call.start': { callId: CallId } } }
 */

export type { LoginResult };

/** Registering also logs in: the new account's first device. */
export type RegisterResult = LoginResult;

export interface HelloResult {
  userId: UserId;
  deviceId: DeviceId;
  /** When the token stops working (ms since the epoch); log in again before. */
  expiresAt: number;
  user: UserInfo;
}

export type LogoutResult = Record<string, never>;

export interface ResultMap {
  register: RegisterResult;
  login: LoginResult;
  hello: HelloResult;
  logout: LogoutResult;
  'users.find': UserInfo;
  /** The known users among the ids asked for (unknown ids are left out). */
  'users.get': UserInfo[];
  /** 'requested': they must accept; 'contacts': you are contacts now (they had asked you, or already were). */
  'contacts.add': { status: 'requested' | 'contacts' };
  /** By username: your contacts, each of whom accepted (or asked) — and contacts added before requests existed; each with whether they are online now. */
  'contacts.list': ContactInfo[];
  /** Requests to you (accept or decline them) and from you (waiting), by username. */
  'contacts.requests': { incoming: UserInfo[]; outgoing: UserInfo[] };
  /** The new contact. */
  'contacts.accept': UserInfo;
  'contacts.decline': Record<string, never>;
  'blocks.add': Record<string, never>;
  'blocks.remove': Record<string, never>;
  /** The users you blocked, by username. */
  'blocks.list': UserInfo[];
  'settings.get': UserSettings;
  /** The settings after the change. */
  'settings.set': UserSettings;
  /** Made on first use. */
  'conversations.direct': ConversationInfo;
  'conversations.createGroup': ConversationInfo;
  /** Most recently active first, each with its newest message (`lastMessage`) when it has one. */
  'conversations.list': ConversationInfo[];
  'messages.send': ChatMessage;
  /** Oldest first; page backwards with `beforeSeq` = the first seq of the previous page. */
  'messages.history': ChatMessage[];
  'ice.servers': IceServersResult;
}

export type ResultOf<T extends RequestType> = T extends keyof ResultMap ? ResultMap[T] : unknown;
