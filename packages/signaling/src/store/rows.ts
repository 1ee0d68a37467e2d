/**
 * The rows both stores read (the same tables in both dialects) and their mapping onto
 * the protocol's types. SQLite stores flags as 0/1 and PostgreSQL as booleans; a
 * conversation's members come as JSON text from SQLite and as an array from PostgreSQL,
 * so each store hands them over parsed.
 */
import type { CallId, CallRecord, ChatMessage, ConversationId, ConversationInfo, DeviceId, MessageId, UserId, UserInfo } from '@roundtable/protocol';
import type { StoredSession, StoredUser } from './Store.js';

export interface UserRow {
  id: string;
  username: string;
  display_name: string;
  password_hash: string;
  created_at: number;
}

export interface SessionRow {
  token_hash: string;
  user_id: string;
  device_id: string;
  device_name: string;
  created_at: number;
  expires_at: number;
}

export interface ConversationRow {
  id: string;
  kind: 'direct' | 'group';
  name: string;
  created_at: number;
}

export interface MessageRow {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  kind: 'text' | 'call';
  text: string | null;
  call_json: string | null;
  sent_at: number;
}

export interface CallRecordRow {
  call_id: string;
  conversation_id: string | null;
  initiator: string;
  audio_only: boolean | number;
  topology: CallRecord['topology'];
  participants: string;
  started_at: number;
  answered_at: number | null;
  ended_at: number;
  duration: number;
  end_reason: CallRecord['endReason'];
  missed: boolean | number;
}

/** The key that makes "one direct conversation per pair" a unique constraint: the pair, sorted. */
export function directKeyOf(a: UserId, b: UserId): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

export function toUserInfo(row: UserRow): UserInfo {
  return { id: row.id as UserId, username: row.username, displayName: row.display_name };
}

export function toUser(row: UserRow): StoredUser {
  return { ...toUserInfo(row), passwordHash: row.password_hash, createdAt: row.created_at };
}

export function toSession(row: SessionRow): StoredSession {
  return {
    tokenHash: row.token_hash,
    userId: row.user_id as UserId,
    deviceId: row.device_id as DeviceId,
    deviceName: row.device_name,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

export function toConversation(row: ConversationRow, memberIds: readonly string[]): ConversationInfo {
  return { id: row.id as ConversationId, kind: row.kind, name: row.name, memberIds: memberIds as UserId[], createdAt: row.created_at };
}

export function toMessage(row: MessageRow): ChatMessage {
  const message: ChatMessage = {
    id: row.id as MessageId,
    conversationId: row.conversation_id as ConversationId,
    seq: row.seq,
    senderId: row.sender_id as UserId,
    kind: row.kind,
    sentAt: row.sent_at,
  };
  if (row.text !== null) message.text = row.text;
  if (row.call_json !== null) message.call = JSON.parse(row.call_json) as CallRecord;
  return message;
}

export function toCallRecord(row: CallRecordRow): CallRecord {
  return {
    callId: row.call_id as CallId,
    initiator: row.initiator as UserId,
    audioOnly: flag(row.audio_only),
    topology: row.topology,
    participants: JSON.parse(row.participants) as UserId[],
    startedAt: row.started_at,
    answeredAt: row.answered_at,
    endedAt: row.ended_at,
    duration: row.duration,
    endReason: row.end_reason,
    missed: flag(row.missed),
  };
}

function flag(value: boolean | number): boolean {
  return value === true || value === 1;
}
