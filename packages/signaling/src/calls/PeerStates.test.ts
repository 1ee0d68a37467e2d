import type { CallId, RequestOf, RequestType, RoomName } from '@roundtable/protocol';
import { zClientRequest } from '@roundtable/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessMediaServer } from '../media/InProcessMediaServer.js';
import type { HandlerTable } from '../net/Handlers.js';
import { FakeRouter, MemoryDirectory, type FakeLink } from '../testing/fakes.js';
import { CallService } from './CallService.js';
import { RoomService } from './RoomService.js';

type Body<T extends RequestType> = Omit<RequestOf<T>, 'id' | 'type'>;
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function setup() {
  const router = new FakeRouter();
  const media = new InProcessMediaServer({ iceAddresses: ['127.0.0.1'], portRange: [64900, 64949] });
  const directory = new MemoryDirectory();
  const calls = new CallService(router, media, directory);
  const rooms = new RoomService(router, media);
  const table: HandlerTable = { ...calls.handlers(), ...rooms.handlers() };
  cleanup.push(() => media.close(), () => rooms.close(), () => calls.close());
  const call = async <T extends RequestType>(link: FakeLink, type: T, body: Body<T>): Promise<Record<string, unknown>> => {
    const handler = table[type] as ((r: RequestOf<T>, ctx: { link: FakeLink }) => Promise<unknown>) | undefined;
    return (await handler!({ id: 1, type, ...body } as unknown as RequestOf<T>, { link })) as Record<string, unknown>;
  };
  return { router, directory, call };
}

describe('participant state and reactions', () => {
  it('in a call: a state set before the answer reaches the callee on answering; later changes and reactions reach the others', async () => {
    const env = setup();
    const [alice, bob, eve] = [env.router.connect('alice'), env.router.connect('bob'), env.router.connect('eve')];
    const conv = env.directory.add('direct', ['alice', 'bob']);
    const { callId } = (await env.call(alice, 'call.start', { conversationId: conv.id, audioOnly: false, topology: 'p2p' })) as { callId: CallId };

    await expect(env.call(alice, 'call.state', { callId, audioMuted: true })).resolves.toEqual({ state: { audioMuted: true, cameraOff: false, screenSharing: false, handRaised: false } });
    await expect(env.call(bob, 'call.state', { callId, handRaised: true })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await env.call(bob, 'call.answer', { callId, audioOnly: false });
    await bob.waitFor('call.participantState', (n) => n.userId === 'alice' && n.state.audioMuted && !n.state.cameraOff);

    await env.call(bob, 'call.state', { callId, cameraOff: true, handRaised: true });
    const seen = await alice.waitFor('call.participantState', (n) => n.userId === 'bob');
    expect(seen.state).toEqual({ audioMuted: false, cameraOff: true, screenSharing: false, handRaised: true });
    expect(bob.received.some((n) => n.type === 'call.participantState' && n.userId === 'bob')).toBe(false);

    await env.call(alice, 'call.react', { callId, reaction: '👏' });
    for (const link of [alice, bob]) await link.waitFor('call.reaction', (n) => n.from === 'alice' && n.reaction === '👏');
    await expect(env.call(eve, 'call.react', { callId, reaction: '👍' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(eve.received.some((n) => n.type === 'call.reaction' || n.type === 'call.participantState')).toBe(false);
  });

  it('in a room: a joiner is told the others\' announced state; a member who leaves and comes back starts afresh', async () => {
    const env = setup();
    const room = 'daily' as RoomName;
    const [a, b, c] = [env.router.connect('a'), env.router.connect('b'), env.router.connect('c')];
    await env.call(a, 'room.join', { room });
    await env.call(a, 'room.state', { room, cameraOff: true });
    await env.call(b, 'room.join', { room });
    expect((await b.waitFor('room.participantState', (n) => n.userId === 'a')).state).toEqual({ audioMuted: false, cameraOff: true, screenSharing: false, handRaised: false });

    await env.call(b, 'room.react', { room, reaction: '🎉' });
    await a.waitFor('room.reaction', (n) => n.from === 'b' && n.reaction === '🎉');
    await expect(env.call(c, 'room.state', { room, audioMuted: true })).rejects.toMatchObject({ code: 'FORBIDDEN' });

    await env.call(a, 'room.leave', { room });
    await env.call(a, 'room.join', { room });
    await env.call(c, 'room.join', { room });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(c.received.filter((n) => n.type === 'room.participantState')).toEqual([]);
  });

  it('refuses a reaction outside the list and a state field of the wrong type', () => {
    expect(zClientRequest.safeParse({ id: 1, type: 'call.react', callId: 'c1', reaction: '💩' }).success).toBe(false);
    expect(zClientRequest.safeParse({ id: 1, type: 'room.state', room: 'daily', audioMuted: 'yes' }).success).toBe(false);
    expect(zClientRequest.safeParse({ id: 1, type: 'room.state', room: 'daily', handRaised: true }).success).toBe(true);
  });
});
