import { useTestPeerEnvironment } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import type { SessionStats } from './StatsCollector.js';
import { RtpCounter, signUp, startServer, until } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [50900, 50999];

describe('the loopback self-test through the SDK', () => {
  it('startLoopback(): your own media comes back from the media server as the call\'s remote tracks', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'lalice', 7);

    const call = await alice.client.startLoopback({ localMedia: alice.localMedia });
    const got = new RtpCounter(call);
    expect([call.topology, call.conversationId, call.state]).toEqual(['loopback', null, 'CONNECTING']);

    await until(() => got.grew(alice.id, 20), 'own audio and video back');
    expect(got.tags.get(alice.id)).toEqual(new Set([7]));
    expect(call.state).toBe('CONNECTED');
    expect(call.stateHistory).toEqual(['IDLE', 'OUTGOING', 'CONNECTING', 'CONNECTED']);
    expect(server.media.roomCount).toBe(1);
    // The self-test's numbers: the round trip to the server and the rates both ways, on the uplink.
    let stats: SessionStats | undefined;
    await until(() => {
      void call.getStats().then((s) => (stats = s));
      return stats?.uplink?.rttMs != null && stats.uplink.bitrateIn > 0 && stats.uplink.bitrateOut > 0;
    }, 'loopback stats with RTT and rates');
    expect(stats!.participants).toEqual([]);
    expect(stats!.uplink!.participant).toBe(alice.id);

    await call.hangUp();
    expect(call.endReason).toBe('hangup');
    await until(() => server.media.roomCount === 0, 'the loopback room freed');
  }, 60_000);

  it('an audio-only loopback sends and gets back audio only', async () => {
    const server = await startServer(env, PORTS);
    const alice = await signUp(env, server.url, 'lbob', 8);
    const call = await alice.client.startLoopback({ localMedia: alice.localMedia, audioOnly: true });
    const got = new RtpCounter(call);
    await until(() => got.count(alice.id, 'audio') > 20, 'own audio back');
    expect(got.count(alice.id, 'video')).toBe(0);
    await call.hangUp();
  }, 60_000);
});
