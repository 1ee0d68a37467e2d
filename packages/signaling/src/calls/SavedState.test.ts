import type { ConversationId, DeviceId, UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { callFields, parseCall, parseRoom, roomFields, SavedStateError, type SavedCall, type SavedRoom } from './SavedState.js';

const alice = 'alice' as UserId;
const bob = 'bob' as UserId;

const call: SavedCall = {
  conversationId: 'c1' as ConversationId,
  initiator: alice,
  audioOnly: false,
  topology: 'sfu',
  media: 'hybrid',
  group: true,
  startedAt: 1000,
  answeredAt: 2000,
  mediaRoom: 'call x',
  participants: [{ node: 'n1', key: 'n1/3', userId: alice, deviceId: 'a1' as DeviceId }],
  ringing: [bob],
  everJoined: [alice],
  states: [[alice, { audioMuted: true, cameraOff: false, screenSharing: false, handRaised: true }]],
};

const room: SavedRoom = {
  members: [{ node: 'n2', key: 'n2/1', userId: bob, deviceId: 'b1' as DeviceId }],
  states: [[bob, { audioMuted: false, cameraOff: true, screenSharing: false, handRaised: false, speaking: true }]],
  messages: [{ seq: 1, senderId: bob, text: 'hi', sentAt: 5 }],
  lastSeq: 1,
  mediaRoom: 'room standup',
};

describe('SavedState', () => {
  it('a call and a room read back as they were saved', () => {
    expect(parseCall(callFields(call))).toEqual(call);
    expect(parseRoom(roomFields(room))).toEqual(room);
  });

  it('a missing, non-JSON or malformed field throws SavedStateError', () => {
    const { ringing: _ringing, ...noRinging } = callFields(call);
    expect(() => parseCall(noRinging)).toThrow(SavedStateError);
    expect(() => parseCall({ ...callFields(call), participants: '[{' })).toThrow(/not JSON/);
    expect(() => parseCall({ ...callFields(call), call: JSON.stringify({ ...JSON.parse(callFields(call)['call']!), topology: 'mesh' }) })).toThrow(/topology/);
    expect(() => parseRoom({ ...roomFields(room), members: JSON.stringify([{ node: 'n2' }]) })).toThrow(SavedStateError);
  });
});
