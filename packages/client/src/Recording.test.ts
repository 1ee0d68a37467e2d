import { useTestPeerEnvironment } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import type { RecordingChange } from './MediaSession.js';
import type { RecordingNotice } from './RoundtableClient.js';
import { nextIncoming, signUp, startServer, until } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [51520, 51599];

describe('recording through the SDK', () => {
  it('call.record(start|stop): everyone in the call gets the recording event; both list it and get a signed download link', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'recalice', 1);
    const bob = await signUp(env, server.url, 'recbob', 2);
    const conversationId = await alice.client.directConversation(bob.id);
    const ringing = nextIncoming(bob.client);
    const call = await alice.client.startCall(conversationId, { topology: 'sfu', localMedia: alice.localMedia });
    const incoming = await ringing;
    await incoming.accept({ localMedia: bob.localMedia });
    await until(() => call.state === 'CONNECTED' && incoming.state === 'CONNECTED', 'both CONNECTED');
    const seen: Record<string, RecordingChange[]> = { alice: [], bob: [] };
    call.on('recording', (e) => seen['alice']!.push(e));
    incoming.on('recording', (e) => seen['bob']!.push(e));
    const notices: RecordingNotice[] = [];
    bob.client.on('recording', (n) => notices.push(n));

    const recordingId = await call.record('start');

    await until(() => seen['alice']!.length === 1 && seen['bob']!.length === 1, 'both told recording started');
    expect(seen['bob']![0]).toEqual({ recording: true, by: alice.id, recordingId });
    expect([call.recording, incoming.recording, incoming.recordingId]).toEqual([true, true, recordingId]);
    await expect(incoming.record('start')).rejects.toMatchObject({ code: 'INVALID_STATE' });

    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await incoming.record('stop')).toBe(recordingId);
    await until(() => seen['alice']!.length === 2 && seen['bob']!.length === 2, 'both told recording stopped', 30_000);
    expect(seen['alice']![1]).toEqual({ recording: false, by: bob.id, recordingId });
    expect([call.recording, incoming.recordingId]).toEqual([false, null]);
    expect(notices.map((n) => [n.recording, n.callId])).toEqual([
      [true, call.id],
      [false, call.id],
    ]);

    for (const user of [alice, bob]) {
      const list = await user.client.recordings();
      expect(list.map((r) => [r.id, r.callId, r.startedBy, r.status])).toEqual([[recordingId, call.id, alice.id, expect.stringMatching(/^(complete|failed)$/)]]);
    }
    const link = await bob.client.recordingLink(recordingId);
    const httpBase = server.url.replace(/^ws:/, 'http:').replace(/\/ws$/, '');
    expect(link.url).toMatch(new RegExp(`^${httpBase}/recordings/${recordingId}\\?expires=\\d+&sig=[\\w-]+$`));
    expect(link.expiresAt).toBeGreaterThan(Date.now());
    await call.hangUp();
  });

  it('room.record(start|stop): every member gets the recording event and the client-level notice names the room', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'recralice', 5);
    const bob = await signUp(env, server.url, 'recrbob', 6);
    const aliceRoom = await alice.client.joinRoom('rec-room', { localMedia: alice.localMedia });
    const bobRoom = await bob.client.joinRoom('rec-room', { localMedia: bob.localMedia });
    await until(() => aliceRoom.state === 'CONNECTED' && bobRoom.state === 'CONNECTED', 'both in the room');
    const seen: RecordingChange[] = [];
    aliceRoom.on('recording', (e) => seen.push(e));
    const notices: RecordingNotice[] = [];
    alice.client.on('recording', (n) => notices.push(n));

    const recordingId = await bobRoom.record('start');
    await until(() => seen.length === 1 && bobRoom.recording, 'recording started in the room');
    expect(seen[0]).toEqual({ recording: true, by: bob.id, recordingId });
    await aliceRoom.record('stop');
    await until(() => seen.length === 2, 'recording stopped in the room', 30_000);

    expect([seen[1]!.recording, seen[1]!.by, aliceRoom.recording, bobRoom.recording]).toEqual([false, alice.id, false, false]);
    expect(notices.map((n) => [n.recording, n.room, n.callId])).toEqual([
      [true, 'rec-room', null],
      [false, 'rec-room', null],
    ]);
    expect((await bob.client.recordings()).map((r) => [r.id, r.room])).toEqual([[recordingId, 'rec-room']]);
    await Promise.all([aliceRoom.leave(), bobRoom.leave()]);
  });

  it('a peer-to-peer call cannot be recorded: record() rejects with INVALID_STATE and nothing changes', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'recpalice', 3);
    const bob = await signUp(env, server.url, 'recpbob', 4);
    const conversationId = await alice.client.directConversation(bob.id);
    const ringing = nextIncoming(bob.client);
    const call = await alice.client.startCall(conversationId, { topology: 'p2p', audioOnly: true, localMedia: alice.localMedia });
    await (await ringing).accept({ localMedia: bob.localMedia });

    await expect(call.record('start')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(call.recording).toBe(false);
    expect(await alice.client.recordings()).toEqual([]);
    await call.hangUp();
  });
});
