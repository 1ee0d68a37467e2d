import { useTestPeerEnvironment } from '@roundtable/media/testing';
import { describe, expect, it } from 'vitest';
import type { QualityLevel, SessionStats } from './StatsCollector.js';
import { qualityOf, QUALITY_THRESHOLDS } from './StatsCollector.js';
import { nextIncoming, signUp, startServer, until } from './testing/harness.js';

const env = useTestPeerEnvironment();
const PORTS: [number, number] = [51350, 51419];

async function call(prefix: string, topology: 'sfu' | 'p2p') {
  const server = await startServer(env, PORTS);
  const alice = await signUp(env, server.url, `${prefix}alice`, 1, { statsIntervalMs: 250 });
  const bob = await signUp(env, server.url, `${prefix}bob`, 2, { statsIntervalMs: 250 });
  const conversation = await alice.client.im.directConversation(bob.id);
  const ringing = nextIncoming(bob.client);
  const aliceCall = await alice.client.startCall(conversation.id, { topology, localMedia: alice.localMedia });
  const stats: SessionStats[] = [];
  const levels: Array<{ level: QualityLevel; previous: QualityLevel | null }> = [];
  aliceCall.on('stats', (s) => stats.push(s));
  aliceCall.on('quality', (q) => levels.push(q));
  const bobCall = await ringing;
  await bobCall.accept({ localMedia: bob.localMedia });
  return { alice, bob, aliceCall, bobCall, stats, levels };
}

describe('call stats', () => {
  it('through the media server: per participant bitrate in, the uplink bitrate out and RTT, loss, a quality level', async () => {
    const { bob, stats, levels, aliceCall } = await call('s', 'sfu');
    await until(() => stats.some((s) => (s.participants[0]?.bitrateIn ?? 0) > 0 && (s.uplink?.bitrateOut ?? 0) > 0 && s.uplink?.rttMs != null), 'stats with rates and RTT');
    const s = stats.find((x) => (x.participants[0]?.bitrateIn ?? 0) > 0 && (x.uplink?.bitrateOut ?? 0) > 0 && x.uplink?.rttMs != null)!;
    const fromBob = s.participants[0]!;
    expect(fromBob.participant).toBe(bob.id);
    // Rates depend on how busy the machine is (the fake sources run on timers): only their presence is asserted.
    expect(fromBob.bitrateIn).toBeGreaterThan(0);
    expect(fromBob.bitrateOut).toBe(s.uplink!.bitrateOut);
    expect(s.uplink!.bitrateOut).toBeGreaterThan(0);
    expect(fromBob.lossRate).toBeGreaterThanOrEqual(0);
    expect(fromBob.lossRate).toBeLessThanOrEqual(1);
    expect(s.uplink!.rttMs).toBeGreaterThanOrEqual(0);
    expect(['good', 'fair', 'poor']).toContain(s.quality);
    expect(levels[0]?.previous).toBeNull();
    expect(levels.at(-1)?.level).toBe(stats.at(-1)?.quality);

    await aliceCall.hangUp();
    const count = stats.length;
    await new Promise((r) => setTimeout(r, 600));
    expect(stats.length).toBe(count); // stats stop with the call
  }, 60_000);

  it('peer to peer: getStats() gives bitrate in and out for the peer, and no uplink', async () => {
    const { bob, aliceCall } = await call('p', 'p2p');
    await until(() => aliceCall.state === 'CONNECTED', 'connected');
    await aliceCall.getStats();
    let s: SessionStats | undefined;
    await until(() => {
      void aliceCall.getStats().then((x) => (s = x));
      return (s?.participants[0]?.bitrateIn ?? 0) > 0 && (s?.participants[0]?.bitrateOut ?? 0) > 0;
    }, 'P2P rates');
    expect([s!.uplink, s!.participants[0]!.participant]).toEqual([null, bob.id]);
  }, 60_000);

  it('quality levels follow the documented thresholds', () => {
    expect(qualityOf(0, 20)).toBe('good');
    expect(qualityOf(0, null)).toBe('good');
    expect(qualityOf(QUALITY_THRESHOLDS.good.lossRate, 20)).toBe('fair');
    expect(qualityOf(0, QUALITY_THRESHOLDS.good.rttMs)).toBe('fair');
    expect(qualityOf(QUALITY_THRESHOLDS.fair.lossRate, 20)).toBe('poor');
    expect(qualityOf(0.01, QUALITY_THRESHOLDS.fair.rttMs + 1)).toBe('poor');
  });
});
