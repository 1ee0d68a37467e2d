import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { UserInfo } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import type { Call } from './Call.js';
import { ClientError } from './ClientError.js';
import { endedWith, nextIncoming, RtpCounter, signUp as signUpWith, startServer as startServerWith, until } from './testing/harness.js';

const peerEnv = useTestPeerEnvironment();
const PORTS: [number, number] = [64510, 64549];

const startServer = () => startServerWith(peerEnv, PORTS);
const signUp = (url: string, username: string, tag: number) => signUpWith(peerEnv, url, username, tag);

describe('call waiting, contact requests, blocking and the call preference through the SDK', () => {
  it('a waiting call is flagged; accept({ switch: true }) ends the current call here and for its other side, and media flows in the new one', async () => {
    const server = await startServer();
    const [alice, bob, carol] = [await signUp(server.url, 'walice', 1), await signUp(server.url, 'wbob', 2), await signUp(server.url, 'wcarol', 3)];
    const ringing = nextIncoming(bob.client);
    const first = await alice.client.startCall(await alice.client.directConversation(bob.id), { topology: 'p2p', localMedia: alice.localMedia });
    const bobsFirst = await ringing;
    expect(bobsFirst.waiting).toBe(false);
    await bobsFirst.accept({ localMedia: bob.localMedia });
    await until(() => bobsFirst.state === 'CONNECTED', 'first call CONNECTED');

    const waiting = nextIncoming(bob.client);
    const second = await carol.client.startCall(await carol.client.directConversation(bob.id), { topology: 'p2p', localMedia: carol.localMedia });
    const bobsSecond = await waiting;
    expect([bobsSecond.waiting, bobsSecond.request, bobsSecond.state, bobsFirst.state]).toEqual([true, false, 'INCOMING', 'CONNECTED']);

    const counter = new RtpCounter(bobsSecond);
    await bobsSecond.accept({ localMedia: bob.localMedia, switch: true });
    expect(bobsFirst.ended).toBe(true);
    expect(await endedWith(first)).toBe('remoteHangup');
    await until(() => second.state === 'CONNECTED' && bobsSecond.state === 'CONNECTED', 'second call CONNECTED');
    await until(() => counter.grew(carol.id, 20), 'media from Carol');
    expect(bob.client.activeCalls).toEqual([bobsSecond]);
    await second.hangUp();
  });

  it('decline("busy") of a waiting call ends it for the caller with busy', async () => {
    const server = await startServer();
    const [alice, bob, carol] = [await signUp(server.url, 'dalice', 1), await signUp(server.url, 'dbob', 2), await signUp(server.url, 'dcarol', 3)];
    const ringing = nextIncoming(bob.client);
    await alice.client.startCall(await alice.client.directConversation(bob.id), { topology: 'p2p', audioOnly: true, localMedia: alice.localMedia });
    await (await ringing).accept({ localMedia: bob.localMedia });
    const waiting = nextIncoming(bob.client);
    const second = await carol.client.startCall(await carol.client.directConversation(bob.id), { topology: 'p2p', audioOnly: true, localMedia: carol.localMedia });
    await (await waiting).decline('busy');
    expect(await endedWith(second)).toBe('busy');
    expect(bob.client.activeCalls.map((c: Call) => c.state)).not.toContain('INCOMING');
  });

  it('contact requests: addContact() asks, the other side hears contactRequest and accepts, the asker hears contactAccepted; blocking refuses calls with FORBIDDEN; the preference makes a non-contact\'s call a request', async () => {
    const server = await startServer();
    const [alice, bob, stranger] = [await signUp(server.url, 'calice', 1), await signUp(server.url, 'cbob', 2), await signUp(server.url, 'cstranger', 3)];
    const asked = new Promise<UserInfo>((resolve) => bob.client.im.once('contactRequest', ({ from }) => resolve(from)));
    const accepted = new Promise<UserInfo>((resolve) => alice.client.im.once('contactAccepted', ({ user }) => resolve(user)));
    expect(await alice.client.im.addContact(bob.id)).toBe('requested');
    expect((await asked).id).toBe(alice.id);
    expect((await bob.client.im.contactRequests()).incoming.map((u) => u.id)).toEqual([alice.id]);
    expect((await bob.client.im.acceptContact(alice.id)).map((u) => u.id)).toEqual([alice.id]);
    expect((await accepted).id).toBe(bob.id);
    expect((await alice.client.im.contacts()).map((u) => u.id)).toEqual([bob.id]);

    await stranger.client.im.addContact(alice.id);
    await alice.client.im.declineContact(stranger.id);
    expect(await alice.client.im.contactRequests()).toEqual({ incoming: [], outgoing: [] });

    expect(await alice.client.im.updateSettings({ callsFromNonContacts: 'request' })).toEqual({ callsFromNonContacts: 'request' });
    const request = nextIncoming(alice.client);
    const strangersCall = await stranger.client.startCall(await stranger.client.directConversation(alice.id), { topology: 'p2p', audioOnly: true, localMedia: stranger.localMedia });
    expect((await request).request).toBe(true);
    await (await request).decline();
    expect(await endedWith(strangersCall)).toBe('remoteHangup');

    await alice.client.im.block(stranger.id);
    expect((await alice.client.im.blocked()).map((u) => u.id)).toEqual([stranger.id]);
    const refused = stranger.client.startCall(await stranger.client.directConversation(alice.id), { topology: 'p2p', audioOnly: true, localMedia: stranger.localMedia });
    await expect(refused).rejects.toBeInstanceOf(ClientError);
    await expect(refused).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await alice.client.im.unblock(stranger.id);
    expect(await alice.client.im.blocked()).toEqual([]);
  });
});
