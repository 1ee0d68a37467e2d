import { useTestPeerEnvironment } from '@roundtable/media/testing';
import { MAX_ROOM_MESSAGES, type RequestOf, type RequestType, type RoomName, type SignalPayload, type UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { InProcessMediaServer } from '../media/InProcessMediaServer.js';
import type { HandlerTable } from '../net/Handlers.js';
import { FakeRouter, type FakeLink } from '../testing/fakes.js';
import { SfuPeer } from '../testing/sfuPeer.js';
import { pumpSignals, until } from '../testing/wait.js';
import { RoomService, type RoomServiceOptions } from './RoomService.js';

const peerEnv = useTestPeerEnvironment();
const cleanup = peerEnv.cleanup;

type Body<T extends RequestType> = Omit<RequestOf<T>, 'id' | 'type'>;
const ROOM = 'standup' as RoomName;

function setup(options: RoomServiceOptions = {}) {
  const router = new FakeRouter();
  const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: [45200, 45499] });
  const rooms = new RoomService(router, media, options);
  const table: HandlerTable = rooms.handlers();
  cleanup.push(() => rooms.close(), () => media.close());
  const call = async <T extends RequestType>(link: FakeLink, type: T, body: Body<T>): Promise<unknown> => {
    const handler = table[type] as ((r: RequestOf<T>, ctx: { link: FakeLink }) => Promise<unknown>) | undefined;
    return handler!({ id: 1, type, ...body } as unknown as RequestOf<T>, { link });
  };
  return { router, media, rooms, call };
}

function peerFor(env: ReturnType<typeof setup>, link: FakeLink, tag: number): SfuPeer {
  const peer = new SfuPeer(link.userId, { send: (payload: SignalPayload) => env.call(link, 'room.signal', { room: ROOM, payload }) }, peerEnv.stunUrl, tag);
  cleanup.push(() => peer.close());
  cleanup.push(pumpSignals(link.received, 'room.signal', (p) => peer.handle(p)));
  return peer;
}


describe('open rooms', () => {
  it('three people join by name and receive each other; a leaver is announced and the last one closes the room', async () => {
    const env = setup();
    const [a, b, c] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('c')];
    const peers = [peerFor(env, a, 1), peerFor(env, b, 2), peerFor(env, c, 3)];
    for (const l of [a, b, c]) await env.call(l, 'room.join', { room: ROOM });
    await until(() => peers.every((p, i) => ['a', 'b', 'c'].every((n, j) => i === j || p.videoCount(n) > 5)));
    await env.call(c, 'room.leave', { room: ROOM });
    await a.waitFor('room.signal', (n) => n.payload.type === 'participantLeft' && n.payload.name === 'c');
    await env.call(a, 'room.signal', { room: ROOM, payload: { type: 'leaveRoom' } });
    await env.call(b, 'room.leave', { room: ROOM });
    expect(env.rooms.openRooms).toBe(0);
    expect(env.media.roomCount).toBe(0);
  });

  it('a member who leaves while another joins is not announced to them, and the join goes through', async () => {
    const env = setup();
    // The media room's join of b is held until a has left.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const createRoom = env.media.createRoom.bind(env.media);
    env.media.createRoom = async (label, options) => {
      const room = await createRoom(label, options);
      const join = room.join.bind(room);
      room.join = async (participant) => {
        if (participant === 'b') await held;
        return join(participant);
      };
      return room;
    };
    const [a, b] = [env.router.connect('a'), env.router.connect('b')];
    await env.call(a, 'room.join', { room: ROOM });
    const joining = env.call(b, 'room.join', { room: ROOM });
    await until(() => env.rooms.find(ROOM)?.members.has('b' as UserId) ?? false);
    await env.call(a, 'room.leave', { room: ROOM });
    release();
    expect(await joining).toEqual({ room: ROOM, participants: [], messages: [] });
    expect(b.received.some((n) => n.type === 'room.signal' && n.payload.type === 'existingParticipants' && n.payload.data.length === 0)).toBe(true);
    expect(a.received.some((n) => n.type === 'room.signal' && n.payload.type === 'newParticipantArrived')).toBe(false);
    await env.call(b, 'room.leave', { room: ROOM });
  });

  it('refuses signals from someone who has not joined, a second join, and a full room', async () => {
    const env = setup({ maxMembers: 2 });
    const [a, b, c] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('c')];
    await env.call(a, 'room.join', { room: ROOM });
    await expect(env.call(b, 'room.signal', { room: ROOM, payload: { type: 'receiveVideoFrom', sender: 'a' as UserId, sdpOffer: 'v=0' } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(env.call(a, 'room.join', { room: ROOM })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await env.call(b, 'room.join', { room: ROOM });
    await expect(env.call(c, 'room.join', { room: ROOM })).rejects.toMatchObject({ code: 'CALL_FULL' });
  });

  it('joining again from another socket (the old one not yet seen as gone) takes the place back: the others see her arrive again, never leave; the old socket is told the room ended for it', async () => {
    const env = setup();
    const [a, b] = [env.router.connect('a'), env.router.connect('b')];
    await env.call(a, 'room.join', { room: ROOM });
    await env.call(b, 'room.join', { room: ROOM });
    const b2 = env.router.connect('b', 'b-d2');

    await expect(env.call(b2, 'room.join', { room: ROOM })).resolves.toEqual({ room: ROOM, participants: ['a'], messages: [] });

    await a.waitFor('room.signal', (n) => n.payload.type === 'newParticipantArrived' && n.payload.name === 'b');
    expect(a.received.filter((n) => n.type === 'room.left' || (n.type === 'room.signal' && n.payload.type === 'participantLeft'))).toEqual([]);
    await b.waitFor('room.ended', (n) => n.reason === 'acceptByOtherClient');
    await expect(env.call(b2, 'room.join', { room: ROOM })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(env.rooms.participantCount).toBe(2);
  });

  it('a member whose device drops is shown reconnecting for the grace period, then leaves as dropped', async () => {
    const env = setup({ disconnectGraceMs: 300 });
    const [a, b] = [env.router.connect('a'), env.router.connect('b')];
    await env.call(a, 'room.join', { room: ROOM });
    await env.call(b, 'room.join', { room: ROOM });

    env.router.disconnect(b);

    await a.waitFor('room.participant', (n) => n.userId === 'b' && n.connection === 'reconnecting');
    expect(env.rooms.participantCount).toBe(2);
    await a.waitFor('room.left', (n) => n.userId === 'b' && n.dropped === true);
    await a.waitFor('room.signal', (n) => n.payload.type === 'participantLeft' && n.payload.name === 'b');
    expect(env.rooms.participantCount).toBe(1);
  });

  it('a member who drops and joins again within the grace is back in her place: connected, her state kept, no leave', async () => {
    const env = setup({ disconnectGraceMs: 60_000 });
    const [a, b] = [env.router.connect('a'), env.router.connect('b')];
    await env.call(a, 'room.join', { room: ROOM });
    await env.call(b, 'room.join', { room: ROOM });
    await env.call(b, 'room.state', { room: ROOM, audioMuted: true });
    env.router.disconnect(b);
    await a.waitFor('room.participant', (n) => n.userId === 'b' && n.connection === 'reconnecting');

    const b2 = env.router.connect('b', 'b-d2');
    await expect(env.call(b2, 'room.join', { room: ROOM })).resolves.toMatchObject({ participants: ['a'] });

    await a.waitFor('room.participant', (n) => n.userId === 'b' && n.connection === 'connected');
    await a.waitFor('room.signal', (n) => n.payload.type === 'newParticipantArrived' && n.payload.name === 'b');
    expect(a.received.filter((n) => n.type === 'room.left')).toEqual([]);
    expect(b.received.filter((n) => n.type === 'room.ended')).toEqual([]);
    // A later joiner still learns she is muted (until she says otherwise).
    const c = env.router.connect('c');
    await env.call(c, 'room.join', { room: ROOM });
    expect(c.received).toContainEqual({ type: 'room.participantState', room: ROOM, userId: 'b', state: { audioMuted: true, cameraOff: false, screenSharing: false, handRaised: false } });
  });

  it('a member who signals from a new socket within the grace takes her place there and is back', async () => {
    const env = setup({ disconnectGraceMs: 60_000 });
    const [a, b] = [env.router.connect('a'), env.router.connect('b')];
    await env.call(a, 'room.join', { room: ROOM });
    const peer = peerFor(env, b, 2);
    await env.call(b, 'room.join', { room: ROOM });
    // Her uplink is on the server (answered) before her socket goes; the old socket says nothing more.
    await b.waitFor('room.signal', (n) => n.payload.type === 'receiveVideoAnswer' && n.payload.name === 'b');
    await peer.close();
    env.router.disconnect(b);
    const b2 = env.router.connect('b', 'b-d2');

    await env.call(b2, 'room.signal', { room: ROOM, payload: { type: 'onIceCandidate', name: 'b' as UserId, candidate: { candidate: '', sdpMid: null, sdpMLineIndex: null } } });

    await a.waitFor('room.participant', (n) => n.userId === 'b' && n.connection === 'connected');
    await env.call(a, 'room.react', { room: ROOM, reaction: '👍' });
    await b2.waitFor('room.reaction', (n) => n.from === 'a');
  });

  it('the room chat: a message goes to every member, one who joins later gets it with room.join, a non-member may not send, and it goes with the room', async () => {
    const env = setup();
    const [a, b, c] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('c')];
    await env.call(a, 'room.join', { room: ROOM });
    await env.call(b, 'room.join', { room: ROOM });

    const sent = await env.call(a, 'room.message', { room: ROOM, text: 'agenda: one item' });

    expect(sent).toMatchObject({ seq: 1, senderId: 'a', text: 'agenda: one item' });
    await a.waitFor('room.message', (n) => n.message.seq === 1);
    await b.waitFor('room.message', (n) => n.message.text === 'agenda: one item' && n.message.senderId === 'a');
    await expect(env.call(c, 'room.message', { room: ROOM, text: 'let me in' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(env.call(c, 'room.join', { room: ROOM })).resolves.toMatchObject({ messages: [sent] });
    for (const l of [a, b, c]) await env.call(l, 'room.leave', { room: ROOM });
    expect(env.rooms.openRooms).toBe(0);
    await expect(env.call(a, 'room.join', { room: ROOM })).resolves.toMatchObject({ messages: [] });
  });

  it(`the room chat keeps the newest ${MAX_ROOM_MESSAGES} messages for later joiners`, async () => {
    const env = setup();
    const a = env.router.connect('a');
    await env.call(a, 'room.join', { room: ROOM });
    for (let i = 1; i <= MAX_ROOM_MESSAGES + 5; i++) await env.call(a, 'room.message', { room: ROOM, text: `m${i}` });

    const joined = (await env.call(env.router.connect('b'), 'room.join', { room: ROOM })) as { messages: Array<{ seq: number }> };

    expect(joined.messages).toHaveLength(MAX_ROOM_MESSAGES);
    expect(joined.messages[0]!.seq).toBe(6);
    expect(joined.messages.at(-1)!.seq).toBe(MAX_ROOM_MESSAGES + 5);
  });

  it('participantCount counts the members of every open room; the log lines carry the room and user ids', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = (o: object) => void lines.push({ ...o });
    const env = setup({ logger: { debug: log, info: log, warn: log, error: log } });
    const [a, b, c] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('c')];

    await env.call(a, 'room.join', { room: ROOM });
    await env.call(b, 'room.join', { room: ROOM });
    await env.call(c, 'room.join', { room: 'other' as RoomName });
    expect(env.rooms.participantCount).toBe(3);
    await env.call(b, 'room.leave', { room: ROOM });

    expect(env.rooms.participantCount).toBe(2);
    expect(lines).toContainEqual(expect.objectContaining({ event: 'roomJoined', room: ROOM, userId: 'b', deviceId: 'b-d1' }));
    expect(lines).toContainEqual(expect.objectContaining({ event: 'roomLeft', room: ROOM, userId: 'b' }));
    await env.call(c, 'room.leave', { room: 'other' as RoomName });
    expect(lines).toContainEqual({ event: 'roomClosed', room: 'other' });
  });
});
