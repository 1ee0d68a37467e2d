import { useTestPeerEnvironment } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ClientError } from './ClientError.js';
import { RoundtableClient } from './RoundtableClient.js';
import { nextIncoming, signUp, startServer, until } from './testing/harness.js';

const env = useTestPeerEnvironment();
// No media flows in these tests; the range only keeps them apart from other files.
const PORTS: [number, number] = [51500, 51519];

/** A second client (a reloaded page) on the same server, not signed in yet. */
async function freshClient(url: string): Promise<RoundtableClient> {
  const client = new RoundtableClient({ url, WebSocket, iceServers: [{ urls: env.stunUrl }], reconnect: false });
  env.cleanup.push(() => client.close());
  await client.connect();
  return client;
}

describe('resuming a session with a stored token (page reload)', () => {
  it('hello(token) signs the client in as the token’s user, as login does: userId, user, calls and IM work', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'sessalice', 1);
    const bob = await signUp(env, server.url, 'sessbob', 2);
    const token = alice.client.sessionToken;
    expect(token).toEqual(expect.any(String));

    const reloaded = await freshClient(server.url);
    expect(() => reloaded.userId).toThrow(ClientError);
    const session = await reloaded.hello(token!);

    expect([session.userId, session.user.username, session.token]).toEqual([alice.id, 'sessalice', token]);
    expect(reloaded.userId).toBe(alice.id);
    expect(reloaded.sessionToken).toBe(token);
    expect((await reloaded.im.contacts()).length).toBe(0);
    // Calls need the signed-in user: the resumed client rings Bob like a logged-in one.
    const conversationId = await reloaded.directConversation(bob.id);
    const ringing = nextIncoming(bob.client);
    const call = await reloaded.startCall(conversationId, { audioOnly: true, topology: 'p2p' });
    expect([call.state, call.initiator]).toEqual(['OUTGOING', alice.id]);
    const incoming = await ringing;
    expect(incoming.initiator).toBe(alice.id);
    await call.hangUp();
    await until(() => incoming.ended, 'bob’s ringing call ended');
    // The lower-level signaling.hello() signs in the same way.
    const another = await freshClient(server.url);
    await another.signaling.hello(token!);
    expect([another.userId, another.signaling.user?.username]).toEqual([alice.id, 'sessalice']);
  });

  it('hello() with a logged-out token rejects with UNAUTHENTICATED and leaves the client signed out', async () => {
    const server = await startServer(env, PORTS);
    const carol = await signUp(env, server.url, 'sesscarol', 3);
    const token = carol.client.sessionToken!;
    await carol.client.logout();
    expect(carol.client.sessionToken).toBeNull();

    const reloaded = await freshClient(server.url);
    await expect(reloaded.hello(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(reloaded.sessionToken).toBeNull();
    expect(() => reloaded.userId).toThrow(ClientError);
  });
});
