import { CALL_MEDIA, TOPOLOGIES, type CallMedia, type ConversationId, type PeerState, type RoomMessage, type Topology, type UserId } from '@roundtable/protocol';
import type { DeviceRef } from '../cluster/Cluster.js';

/**
 * What a call or an open room saves in the cluster at every change, for the node that
 * adopts it should its owner die (docs/deployment.md, "A node killed"). The fields of a
 * Redis hash; each a JSON value. Written by our own nodes, still read as untrusted: a
 * field that does not parse makes the adoption fail (the call or room then ends).
 */
export type SavedFields = Record<string, string>;

/** A call as saved. */
export interface SavedCall {
  conversationId: ConversationId | null;
  initiator: UserId;
  audioOnly: boolean;
  topology: Topology;
  media: CallMedia;
  group: boolean;
  startedAt: number;
  answeredAt: number | null;
  /** The label of its media room (the pipeline is the dead node's: a new one is made), null without media. */
  mediaRoom: string | null;
  /** Those in the call, on the device they use for it. */
  participants: DeviceRef[];
  ringing: UserId[];
  everJoined: UserId[];
  states: Array<[UserId, PeerState]>;
}

/** An open room as saved. */
export interface SavedRoom {
  members: DeviceRef[];
  states: Array<[UserId, PeerState]>;
  messages: RoomMessage[];
  lastSeq: number;
  mediaRoom: string;
}

/** The hash fields of a call. */
export function callFields(call: SavedCall): SavedFields {
  const { participants, ringing, everJoined, states, ...core } = call;
  return { call: JSON.stringify(core), participants: JSON.stringify(participants), ringing: JSON.stringify(ringing), everJoined: JSON.stringify(everJoined), states: JSON.stringify(states) };
}

/** The hash fields of a room. */
export function roomFields(room: SavedRoom): SavedFields {
  const { members, states, messages, ...core } = room;
  return { room: JSON.stringify(core), members: JSON.stringify(members), states: JSON.stringify(states), messages: JSON.stringify(messages) };
}

/** Thrown when saved fields do not read as a call or room. */
export class SavedStateError extends Error {
  override readonly name = 'SavedStateError';
}

/** Reads a call's fields back; throws SavedStateError when one is missing or malformed. */
export function parseCall(fields: SavedFields): SavedCall {
  const core = object(json(fields, 'call'), 'call');
  const topology = core['topology'];
  const media = core['media'];
  if (!TOPOLOGIES.includes(topology as Topology)) throw new SavedStateError(`call.topology '${String(topology)}' is not a topology`);
  if (!CALL_MEDIA.includes(media as CallMedia)) throw new SavedStateError(`call.media '${String(media)}' is not a call media`);
  return {
    conversationId: nullable(core['conversationId'], 'call.conversationId', isString) as ConversationId | null,
    initiator: typed(core['initiator'], 'call.initiator', isString) as UserId,
    audioOnly: typed(core['audioOnly'], 'call.audioOnly', isBoolean),
    topology: topology as Topology,
    media: media as CallMedia,
    group: typed(core['group'], 'call.group', isBoolean),
    startedAt: typed(core['startedAt'], 'call.startedAt', isNumber),
    answeredAt: nullable(core['answeredAt'], 'call.answeredAt', isNumber),
    mediaRoom: nullable(core['mediaRoom'], 'call.mediaRoom', isString),
    participants: devices(json(fields, 'participants'), 'participants'),
    ringing: users(json(fields, 'ringing'), 'ringing'),
    everJoined: users(json(fields, 'everJoined'), 'everJoined'),
    states: peerStates(json(fields, 'states'), 'states'),
  };
}

/** Reads a room's fields back; throws SavedStateError when one is missing or malformed. */
export function parseRoom(fields: SavedFields): SavedRoom {
  const core = object(json(fields, 'room'), 'room');
  const messages = json(fields, 'messages');
  if (!Array.isArray(messages)) throw new SavedStateError('messages is not a list');
  return {
    members: devices(json(fields, 'members'), 'members'),
    states: peerStates(json(fields, 'states'), 'states'),
    messages: messages.map((m, i) => {
      const o = object(m, `messages[${i}]`);
      return { seq: typed(o['seq'], 'seq', isNumber), senderId: typed(o['senderId'], 'senderId', isString) as UserId, text: typed(o['text'], 'text', isString), sentAt: typed(o['sentAt'], 'sentAt', isNumber) };
    }),
    lastSeq: typed(core['lastSeq'], 'room.lastSeq', isNumber),
    mediaRoom: typed(core['mediaRoom'], 'room.mediaRoom', isString),
  };
}

function json(fields: SavedFields, name: string): unknown {
  const raw = fields[name];
  if (raw === undefined) throw new SavedStateError(`the field '${name}' is missing`);
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new SavedStateError(`the field '${name}' is not JSON`);
  }
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SavedStateError(`${what} is not an object`);
  return value as Record<string, unknown>;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';

function typed<T>(value: unknown, what: string, is: (v: unknown) => v is T): T {
  if (!is(value)) throw new SavedStateError(`${what} is malformed`);
  return value;
}

function nullable<T>(value: unknown, what: string, is: (v: unknown) => v is T): T | null {
  return value === null ? null : typed(value, what, is);
}

function users(value: unknown, what: string): UserId[] {
  if (!Array.isArray(value)) throw new SavedStateError(`${what} is not a list`);
  return value.map((u) => typed(u, what, isString) as UserId);
}

function devices(value: unknown, what: string): DeviceRef[] {
  if (!Array.isArray(value)) throw new SavedStateError(`${what} is not a list`);
  return value.map((d, i) => {
    const o = object(d, `${what}[${i}]`);
    return {
      node: typed(o['node'], `${what}[${i}].node`, isString),
      key: typed(o['key'], `${what}[${i}].key`, isString),
      userId: typed(o['userId'], `${what}[${i}].userId`, isString) as UserId,
      deviceId: typed(o['deviceId'], `${what}[${i}].deviceId`, isString) as DeviceRef['deviceId'],
    };
  });
}

function peerStates(value: unknown, what: string): Array<[UserId, PeerState]> {
  if (!Array.isArray(value)) throw new SavedStateError(`${what} is not a list`);
  return value.map((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 2) throw new SavedStateError(`${what}[${i}] is not a pair`);
    const s = object(entry[1], `${what}[${i}]`);
    const state: PeerState = {
      audioMuted: typed(s['audioMuted'], 'audioMuted', isBoolean),
      cameraOff: typed(s['cameraOff'], 'cameraOff', isBoolean),
      screenSharing: typed(s['screenSharing'], 'screenSharing', isBoolean),
      handRaised: typed(s['handRaised'], 'handRaised', isBoolean),
    };
    if (s['speaking'] !== undefined) state.speaking = typed(s['speaking'], 'speaking', isBoolean);
    return [typed(entry[0], `${what}[${i}]`, isString) as UserId, state];
  });
}
