import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { CallId, RequestOf, RequestType, RoomName, SignalPayload } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { CallService } from '../../calls/CallService.js';
import { RoomService } from '../../calls/RoomService.js';
import type { HandlerTable } from '../../net/Handlers.js';
import { FakeRouter, MemoryDirectory, type FakeLink } from '../../testing/fakes.js';
import { SfuPeer } from '../../testing/sfuPeer.js';
import { pumpSignals, until } from '../../testing/wait.js';
import { WorkerMediaServer } from './WorkerMediaServer.js';

// Ports: media 61960-61999.
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [61960, 61999] as [number, number] };
const peerEnv = useTestPeerEnvironment();
const cleanup = peerEnv.cleanup;

type Body<T extends RequestType> = Omit<RequestOf<T>, 'id' | 'type'>;

/** Calls and rooms of the signaling server on two media workers, with fakes around them. */
async function setup() {
  const router = new FakeRouter();
  const media = await WorkerMediaServer.start({ media: MEDIA, workers: 2 });
  const directory = new MemoryDirectory();
  const calls = new CallService(router, media, directory, { ringTimeoutMs: 60_000 });
  const rooms = new RoomService(router, media);
  const table: HandlerTable = { ...calls.handlers(), ...rooms.handlers() };
  cleanup.push(() => calls.close(), () => rooms.close(), () => media.close());
  const call = async <T extends RequestType>(link: FakeLink, type: T, body: Body<T>): Promise<Record<string, unknown>> => {
    const handler = table[type] as ((r: RequestOf<T>, ctx: { link: FakeLink }) => Promise<unknown>) | undefined;
    return (await handler!({ id: 1, type, ...body } as unknown as RequestOf<T>, { link })) as Record<string, unknown>;
  };
  return { router, media, directory, calls, rooms, call };
}

describe('signaling on media workers', () => {
  it("a worker crash ends the call and the room on it (call.ended mediaError, room.ended), and nothing on the other worker", async () => {
    const env = await setup();
    const [me, x, y] = [env.router.connect('me'), env.router.connect('x'), env.router.connect('y')];

    // A loopback call (worker 0) with media flowing, and a room (worker 1).
    const { callId } = (await env.call(me, 'call.start', { audioOnly: false, topology: 'loopback' })) as { callId: CallId };
    const loop = new SfuPeer(me.userId, { send: (payload: SignalPayload) => env.call(me, 'call.signal', { callId, payload }) }, peerEnv.stunUrl, 1, true);
    cleanup.push(() => loop.close());
    cleanup.push(pumpSignals(me.received, 'call.signal', (p) => loop.handle(p)));
    await loop.publish();
    await until(() => loop.videoCount(me.userId) > 10);
    const room = 'standup' as RoomName;
    await env.call(x, 'room.join', { room });
    await env.call(y, 'room.join', { room });
    expect(env.media.stats().map((w) => w.participants)).toEqual([1, 2]);

    // The loopback's worker dies: the call ends with mediaError and is recorded; the room goes on.
    await env.media.simulateCrash(0).catch(() => undefined);
    const ended = await me.waitFor('call.ended', (n) => n.callId === callId);
    expect(ended).toMatchObject({ reason: 'mediaError', by: null });
    expect(env.calls.activeCalls).toBe(0);
    await until(() => env.directory.records.length === 1);
    expect(env.directory.records[0]!.record).toMatchObject({ callId, endReason: 'mediaError' });
    expect(env.rooms.openRooms).toBe(1);
    expect(x.received.some((n) => n.type === 'room.ended')).toBe(false);

    // The room's worker dies: both members are told, the room is gone, and joining again opens a new one on a new worker.
    // A replacement loads the whole engine in its thread: 1-2 s, over 20 s on a busy 2-core machine.
    await until(() => env.media.stats()[0]!.ready, 60_000);
    await env.media.simulateCrash(1).catch(() => undefined);
    for (const link of [x, y]) expect(await link.waitFor('room.ended', (n) => n.room === room)).toMatchObject({ reason: 'mediaError' });
    expect(env.rooms.openRooms).toBe(0);
    await env.call(x, 'room.join', { room });
    expect(env.rooms.openRooms).toBe(1);
    expect(env.media.stats()[0]).toMatchObject({ rooms: 1, participants: 1 });
    // Three worker starts (two of them replacements) and a call: 10 s or more each on a busy 2-core machine; the steps keep their own limits.
  }, 120_000);
});
