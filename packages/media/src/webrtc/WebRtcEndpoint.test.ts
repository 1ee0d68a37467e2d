import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection, RtpPacket } from 'werift';
import { MediaPipeline } from '../core/MediaPipeline.js';
import { StunServer } from '../net/StunServer.js';
import { FakePublisher } from '../testing/FakePublisher.js';
import { createWeriftPeer, transceiverOf, waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';

const stun = new StunServer();
let stunUrl = '';
const open: { close(): unknown }[] = [];

beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
});
afterAll(() => stun.close());
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

function pipeline(): MediaPipeline {
  const p = new MediaPipeline({ iceAddresses: ['127.0.0.1'], portRange: [42000, 42999] });
  open.push(p);
  return p;
}

function peer(): WeriftPeerConnection {
  const pc = createWeriftPeer(stunUrl);
  open.push(pc);
  return pc;
}

function collect(pc: WeriftPeerConnection, kind: 'audio' | 'video'): RtpPacket[] {
  const got: RtpPacket[] = [];
  transceiverOf(pc, kind).onTrack.subscribe((track) => track.onReceiveRtp.subscribe((p) => got.push(p)));
  return got;
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WebRtcEndpoint with werift peers', () => {
  it('a loopback endpoint returns the audio and video its peer sends', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint();
    ep.connect(ep);
    const pc = peer();
    const pub = new FakePublisher(7);
    pub.attach(pc, 'sendrecv');
    const video = collect(pc, 'video');
    const audio = collect(pc, 'audio');
    await negotiate(pc, ep);
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length >= 20 && audio.length >= 20).catch((e) => {
      console.log(JSON.stringify(ep.getStats()), video.length, audio.length);
      throw e;
    });
    pub.stop();
    expect(video[0]!.payload[2]).toBe(7);
    expect(video[0]!.payload[1]! & 1).toBe(0); // first forwarded video packet is a keyframe
    for (let i = 1; i < video.length; i++) {
      expect(video[i]!.header.sequenceNumber).toBe((video[i - 1]!.header.sequenceNumber + 1) & 0xffff);
    }
    const stats = ep.getStats();
    expect(stats.video.packetsReceived).toBeGreaterThan(0);
    expect(stats.audio.packetsSent).toBeGreaterThan(0);
    expect(stats.connectionState).toBe('connected');
  });
});
