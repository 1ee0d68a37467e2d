import wrtc from '@roamhq/wrtc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { StunServer } from '../net/StunServer.js';
import { parseCandidate } from './sdp.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

const { RTCPeerConnection, nonstandard } = wrtc;

const stun = new StunServer();
let stunUrl = '';
beforeAll(async () => {
  stunUrl = (await stun.listen()).url;
});
afterAll(() => stun.close());

/** Only loopback candidates leave the libwebrtc peer: the test stays on 127.0.0.1. */
function loopbackOnly(candidate: string): boolean {
  const parsed = parseCandidate(candidate);
  return parsed !== undefined && parsed.address === '127.0.0.1' && parsed.protocol === 'udp';
}

interface InboundStat {
  type: string;
  kind?: string;
  framesDecoded?: number;
  packetsReceived?: number;
}

describe('WebRtcEndpoint with a libwebrtc peer (@roamhq/wrtc)', () => {
  it('real VP8 and Opus from libwebrtc come back through a loopback endpoint and decode', async () => {
    const pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: [44000, 44099] });
    const ep = pipeline.createWebRtcEndpoint();
    ep.connect(ep);
    const pc = new RTCPeerConnection({ iceServers: [{ urls: stunUrl }] });
    const video = new nonstandard.RTCVideoSource();
    const audio = new nonstandard.RTCAudioSource();
    pc.addTransceiver(video.createTrack(), { direction: 'sendrecv' });
    pc.addTransceiver(audio.createTrack(), { direction: 'sendrecv' });
    const width = 320;
    const height = 240;
    const frame = new Uint8Array((width * height * 3) / 2);
    let n = 0;
    const videoTimer = setInterval(() => {
      frame.fill((n++ * 7) & 0xff, 0, width * height);
      video.onFrame({ width, height, data: frame });
    }, 33);
    const samples = new Int16Array(480);
    const audioTimer = setInterval(() => {
      for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48000));
      audio.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
    }, 10);
    try {
      ep.on('iceCandidate', (c) => {
        void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 });
      });
      pc.onicecandidate = (e) => {
        if (e.candidate && loopbackOnly(e.candidate.candidate)) {
          void ep.addIceCandidate({ candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex });
        }
      };
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const answer = await ep.processOffer(offer.sdp!);
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      await ep.gatherCandidates();

      let stats: InboundStat[] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const report = await pc.getStats();
        stats = [];
        report.forEach((s: InboundStat) => stats.push(s));
        const v = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
        const a = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
        if ((v?.framesDecoded ?? 0) > 5 && (a?.packetsReceived ?? 0) > 20) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const v = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
      const a = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
      expect(v?.framesDecoded ?? 0).toBeGreaterThan(5);
      expect(a?.packetsReceived ?? 0).toBeGreaterThan(20);
      expect(ep.getStats().video.packetsReceived).toBeGreaterThan(0);
    } finally {
      clearInterval(videoTimer);
      clearInterval(audioTimer);
      pc.close();
      pipeline.close();
    }
  });
});
