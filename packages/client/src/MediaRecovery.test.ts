import { useTestPeerEnvironment } from '@roundtable/media/testing';
import type { UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import type { Call } from './Call.js';
import type { RecoveryChange } from './LinkRecovery.js';
import { nextIncoming, RtpCounter, signUp, startServer, until, type TestUser } from './testing/harness.js';

const env = useTestPeerEnvironment();
// This file's UDP ports.
const PORTS: [number, number] = [63130, 63159];

/**
 * werift peer connections a test can break, as a network does: cut() closes one (nothing
 * flows any more) and it says 'failed', as a browser's does when consent fails. While
 * `network.down`, new ones cannot take a remote description (they never connect);
 * while `network.stalled`, that never finishes (a connection stuck in its work).
 */
function breakablePeers(): { Peer: typeof WeriftPeerConnection; made: Array<InstanceType<typeof WeriftPeerConnection> & { cut(): void; isCut: boolean }>; network: { down: boolean; stalled: boolean; stalls: number } } {
  const made: Array<InstanceType<typeof WeriftPeerConnection> & { cut(): void; isCut: boolean }> = [];
  const network = { down: false, stalled: false, stalls: 0 };
  class BreakablePeer extends WeriftPeerConnection {
    isCut = false;
    constructor(...args: ConstructorParameters<typeof WeriftPeerConnection>) {
      super(...args);
      made.push(this);
    }

    override get connectionState(): WeriftPeerConnection['connectionState'] {
      return this.isCut ? 'failed' : super.connectionState;
    }

    override async setRemoteDescription(...args: Parameters<WeriftPeerConnection['setRemoteDescription']>): ReturnType<WeriftPeerConnection['setRemoteDescription']> {
      if (network.stalled) {
        network.stalls++;
        return new Promise(() => undefined);
      }
      if (network.down) throw new Error('the test network is down');
      return super.setRemoteDescription(...args);
    }

    cut(): void {
      this.isCut = true;
      void super.close();
      this.connectionStateChange.execute('failed');
    }
  }
  return { Peer: BreakablePeer, made, network };
}

/** The live receiving (answering) or sending (offering) connection of those made. */
function live(made: ReturnType<typeof breakablePeers>['made'], kind: 'answer' | 'offer'): { cut(): void } {
  const pc = made.filter((p) => !p.isCut && p.connectionState === 'connected' && p.localDescription?.type === kind).at(-1);
  if (!pc) throw new Error(`no connected ${kind === 'answer' ? 'receiving' : 'sending'} connection`);
  return pc;
}

describe('media links of the bundled words are brought back', () => {
  it('a receiving connection that fails is rebuilt on a new server transport (subscribeRestart); a sending one that fails gets a new connection and a new sending transport; media flows again both times', async () => {
    const server = await startServer(env, PORTS);
    const peers = breakablePeers();
    const alice = await signUp(env, server.url, 'recalice', 1, { RTCPeerConnection: peers.Peer });
    const bob = await signUp(env, server.url, 'recbob', 2);
    const aliceRoom = await alice.client.joinRoom('recover', { localMedia: alice.localMedia });
    const bobRoom = await bob.client.joinRoom('recover', { localMedia: bob.localMedia });
    const steps: RecoveryChange[] = [];
    aliceRoom.on('recovery', (c) => steps.push(c));
    const aliceGot = new RtpCounter(aliceRoom);
    const bobGot = new RtpCounter(bobRoom);
    await until(() => aliceGot.grew(bob.id, 10) && bobGot.grew(alice.id, 10), 'media both ways');

    live(peers.made, 'answer').cut();
    await until(() => steps.some((s) => s.link === 'receiving' && s.state === 'recovered'), 'the receiving connection recovered', 30_000, () => steps);
    let since = aliceGot.snapshot();
    await until(() => aliceGot.grew(bob.id, 20, since), 'alice gets bob again', 30_000, () => aliceGot.snapshot());
    expect(await server.media.connectionCount()).toBe(4);

    live(peers.made, 'offer').cut();
    await until(() => steps.some((s) => s.link === 'sending' && s.state === 'recovered'), 'the sending connection recovered', 30_000, () => steps);
    since = bobGot.snapshot();
    await until(() => bobGot.grew(alice.id, 20, since), 'bob gets alice again', 30_000, () => bobGot.snapshot());
    expect(await server.media.connectionCount()).toBe(4);
    expect(steps.filter((s) => s.state === 'retrying')[0]).toMatchObject({ link: 'receiving', attempt: 1, delayMs: 0 });
    expect(aliceRoom.mediaFailed).toBe(false);
    await Promise.all([aliceRoom.leave(), bobRoom.leave()]);
  }, 90_000);

  it('retries back off and give up with a visible state (recovery: failed, mediaFailed); retryMedia() tries again and the media comes back', async () => {
    const server = await startServer(env, PORTS);
    const peers = breakablePeers();
    const alice = await signUp(env, server.url, 'gualice', 1, { RTCPeerConnection: peers.Peer, mediaRecovery: { attemptTimeoutMs: 2000, backoffMs: 300, maxAttempts: 3 } });
    const bob = await signUp(env, server.url, 'gubob', 2);
    const aliceRoom = await alice.client.joinRoom('giveup', { localMedia: alice.localMedia });
    const bobRoom = await bob.client.joinRoom('giveup', { localMedia: bob.localMedia });
    const steps: RecoveryChange[] = [];
    aliceRoom.on('recovery', (c) => steps.push(c));
    const aliceGot = new RtpCounter(aliceRoom);
    await until(() => aliceGot.grew(bob.id, 10), 'alice gets bob');

    peers.network.down = true;
    live(peers.made, 'answer').cut();
    await until(() => steps.some((s) => s.state === 'failed'), 'the recovery gives up', 30_000, () => steps);
    expect(steps.map((s) => [s.link, s.state, s.attempt, s.delayMs])).toEqual([
      ['receiving', 'retrying', 1, 0],
      ['receiving', 'retrying', 2, 300],
      ['receiving', 'retrying', 3, 600],
      ['receiving', 'failed', 3, 0],
    ]);
    expect(aliceRoom.mediaFailed).toBe(true);
    // Nothing more is tried once given up.
    await new Promise((r) => setTimeout(r, 2500));
    expect(steps).toHaveLength(4);

    peers.network.down = false;
    aliceRoom.retryMedia();
    await until(() => steps.at(-1)?.state === 'recovered', 'recovered after retryMedia()', 30_000, () => steps);
    expect(aliceRoom.mediaFailed).toBe(false);
    const since = aliceGot.snapshot();
    await until(() => aliceGot.grew(bob.id, 20, since), 'alice gets bob again', 30_000, () => aliceGot.snapshot());
    await Promise.all([aliceRoom.leave(), bobRoom.leave()]);
  }, 90_000);

  it('participantLeft reaches a group call at once while its signal queue is stuck on a peer connection (the signal and call.left both go around the queue)', async () => {
    const server = await startServer(env, PORTS);
    const peers = breakablePeers();
    const users: TestUser[] = [await signUp(env, server.url, 'plalice', 1, { RTCPeerConnection: peers.Peer })];
    for (const [i, name] of ['plbob', 'plcarol', 'pldave'].entries()) users.push(await signUp(env, server.url, name, i + 2));
    const [alice, bob, carol, dave] = users as [TestUser, TestUser, TestUser, TestUser];
    const group = await alice.client.im.createGroup('leavers', [bob.id, carol.id, dave.id]);
    const ringing = [bob, carol, dave].map((u) => nextIncoming(u.client));
    const call = await alice.client.startCall(group.id, { members: [bob.id, carol.id, dave.id], localMedia: alice.localMedia });
    const incoming = await Promise.all(ringing);
    for (const [i, c] of incoming.entries()) await c.accept({ localMedia: users[i + 1]!.localMedia });
    const [bobCall, carolCall] = incoming as [Call, Call, Call];
    const aliceGot = new RtpCounter(call);
    await until(() => [bob, carol, dave].every((u) => aliceGot.grew(u.id, 5)), 'alice gets everyone', 45_000, () => aliceGot.snapshot());
    const left: UserId[] = [];
    call.on('participantLeft', ({ participant }) => left.push(participant));

    // Alice's receiving connection gets stuck on the offer that takes bob's tracks away.
    peers.network.stalled = true;
    await bobCall.hangUp();
    await until(() => peers.network.stalls > 0, 'the offer after bob left is stuck in alice\'s signal queue');
    await carolCall.hangUp();

    await until(() => left.includes(bob.id) && left.includes(carol.id), 'alice sees bob and carol leave', 15_000, () => left);
    expect(call.participants.filter((p) => p.state === 'joined').map((p) => p.id)).toEqual([dave.id]);
    expect(peers.network.stalls).toBe(1);
    await call.hangUp();
  }, 120_000);
});
