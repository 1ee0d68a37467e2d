import { KurentoServer } from '@roundtable/kurento';
import { KurentoClient } from '@roundtable/kurento/client';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../testing/wait.js';
import { RemoteMediaServer } from '../RemoteMediaServer.js';
import { ROOM_CALL_METHOD } from '../rooms/mediaNodeMethods.js';
import { MediaNodeRooms } from './MediaNodeRooms.js';

// Nothing here sends media: UDP ports 59440-59459 are only reserved.
const MEDIA = { iceAddresses: ['127.0.0.1'], portRange: [59440, 59459] as [number, number] };

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function node(options: { sessionGraceMs?: number; rooms?: boolean; maxRooms?: number } = {}): Promise<{ url: string; rooms: MediaNodeRooms }> {
  const rooms = new MediaNodeRooms(MEDIA, undefined, options.maxRooms);
  const kurento = new KurentoServer({ port: 0, media: MEDIA, ...(options.rooms === false ? {} : { extensions: rooms.extensions }), ...(options.sessionGraceMs ? { sessionGraceMs: options.sessionGraceMs } : {}) });
  opened.push(rooms, kurento);
  return { url: (await kurento.listen()).url, rooms };
}

async function client(url: string): Promise<KurentoClient> {
  const c = await KurentoClient.connect(url, { reconnect: false });
  opened.push(c);
  return c;
}

describe('rooms on a media node (the room calls over the Kurento Protocol)', () => {
  it('a Roundtable media node holds the rooms itself (bundled words); a server with the Kurento Protocol only gets rooms of endpoints (the seed\'s words)', async () => {
    const withRooms = await node();
    const plain = await node({ rooms: false });
    const onNode = await RemoteMediaServer.connect({ url: withRooms.url });
    const onKurento = await RemoteMediaServer.connect({ url: plain.url });
    opened.push(onNode, onKurento);
    expect([onNode.hostsRooms, onKurento.hostsRooms]).toEqual([true, false]);
    const [a, b] = [await onNode.createRoom('standup'), await onKurento.createRoom('standup')];
    expect([a.bundled, b.bundled]).toEqual([true, false]);
    await a.join('ann');
    expect(a.participants()).toEqual(['ann']);
    expect(withRooms.rooms.load()).toEqual({ rooms: 1, participants: 1 });
    await a.close();
    expect(withRooms.rooms.load()).toEqual({ rooms: 0, participants: 0 });
  });

  it('a bad room call is answered with BAD_REQUEST and changes nothing; an unknown call too', async () => {
    const { url, rooms } = await node();
    const c = await client(url);
    await expect(c.call(ROOM_CALL_METHOD, { method: 'createRoom', params: { roomId: 1, label: 'x', options: { audio: 'loud' } } })).resolves.toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    await expect(c.call(ROOM_CALL_METHOD, { method: 'createRoom', params: { roomId: 'one' } })).resolves.toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    await expect(c.call(ROOM_CALL_METHOD, { method: 'constructor', params: {} })).resolves.toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    await expect(c.call(ROOM_CALL_METHOD, {})).resolves.toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(rooms.load().rooms).toBe(0);
    // The same id twice at once: one room is made, the other call is refused.
    const twice = await Promise.all(['x', 'again'].map((label) => c.call(ROOM_CALL_METHOD, { method: 'createRoom', params: { roomId: 1, label, options: {} } })));
    expect(twice).toContainEqual({ ok: true, result: null });
    expect(twice).toContainEqual(expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'INVALID_STATE' }) }));
    expect(rooms.load().rooms).toBe(1);
  });

  it('a session sees only its own rooms, and its rooms close when the session ends', async () => {
    const { url, rooms } = await node({ sessionGraceMs: 300 });
    const first = await client(url);
    const second = await client(url);
    await first.call(ROOM_CALL_METHOD, { method: 'createRoom', params: { roomId: 1, label: 'mine', options: {} } });
    await first.call(ROOM_CALL_METHOD, { method: 'join', params: { roomId: 1, participant: 'ann' } });
    await expect(second.call(ROOM_CALL_METHOD, { method: 'participants', params: { roomId: 1 } })).resolves.toMatchObject({ ok: false, error: { code: 'INVALID_STATE' } });
    await expect(second.call(ROOM_CALL_METHOD, { method: 'close', params: { roomId: 1 } })).resolves.toEqual({ ok: true, result: null });
    expect(rooms.load()).toEqual({ rooms: 1, participants: 1 });
    await first.close();
    await until(() => rooms.load().rooms === 0, 10_000);
    expect(rooms.load()).toEqual({ rooms: 0, participants: 0 });
  });

  it('a room call that waits for media does not hold up the calls of another room on the same connection', async () => {
    const { url } = await node();
    const c = await client(url);
    const call = (method: string, params: Record<string, unknown>): Promise<unknown> => c.call(ROOM_CALL_METHOD, { method, params });
    await call('createRoom', { roomId: 1, label: 'slow', options: {} });
    await call('join', { roomId: 1, participant: 'ann' });
    await call('join', { roomId: 1, participant: 'ben' });
    const settled: string[] = [];
    // Ben has not said anything yet: the room waits for his first words (2 s) before it takes Ann's offer.
    const waiting = call('receiveVideoFrom', { roomId: 1, participant: 'ann', sender: 'ben', sdpOffer: 'v=0', options: {} }).then((reply) => {
      settled.push('receiveVideoFrom');
      return reply;
    });
    await call('createRoom', { roomId: 2, label: 'quick', options: {} });
    settled.push('createRoom');
    expect(await waiting).toMatchObject({ ok: false, error: { code: 'MEDIA_ERROR' } });
    expect(settled).toEqual(['createRoom', 'receiveVideoFrom']);
  });

  it('a session over its rooms is refused with QUOTA_EXCEEDED and nothing is made; a closed room frees its place', async () => {
    const { url, rooms } = await node({ maxRooms: 2 });
    const c = await client(url);
    const create = (roomId: number): Promise<unknown> => c.call(ROOM_CALL_METHOD, { method: 'createRoom', params: { roomId, label: `r${roomId}`, options: {} } });
    await create(1);
    await create(2);
    await expect(create(3)).resolves.toMatchObject({ ok: false, error: { code: 'QUOTA_EXCEEDED' } });
    expect(rooms.load().rooms).toBe(2);
    await c.call(ROOM_CALL_METHOD, { method: 'close', params: { roomId: 1 } });
    await expect(create(3)).resolves.toEqual({ ok: true, result: null });
  });
});
