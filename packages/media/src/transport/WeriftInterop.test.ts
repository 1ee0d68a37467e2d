import { RtpHeader, RtpPacket, type RTCPeerConnection } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../net/UdpMux.js';
import type { PacketCorePath } from '../native/PacketCore.js';
import { packetPathsUnderTest } from '../native/testPaths.js';
import { createWeriftPeer, useTestPeerEnvironment } from '../testing/index.js';
import { DtlsCertificate } from './DtlsSession.js';
import { until } from './testPeers.js';
import { WebRtcTransport } from './WebRtcTransport.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

const env = useTestPeerEnvironment();
for (const path of packetPathsUnderTest()) describe(`on the ${path} packet path`, () => suite(path));

function suite(path: PacketCorePath): void {
  let mux: UdpMux;
  let certificate: DtlsCertificate;

  beforeAll(async () => {
    mux = await engine.sockets.acquire('127.0.0.1', path === 'native' ? [65470, 65479] : [65300, 65331], 'test', path);
    certificate = await DtlsCertificate.generate();
  });
  afterAll(() => mux.release());

  describe('WebRtcTransport with a werift peer', () => {
    it('a werift client (full ICE, DTLS client) publishes to a sending transport, and its RTP reaches the producer', async () => {
      const send = new WebRtcTransport({ mux, certificate });
      const pc: RTCPeerConnection = createWeriftPeer(env.stunUrl);
      env.cleanup.push(() => send.close(), () => pc.close());
      const transceiver = pc.addTransceiver('video', { direction: 'sendonly' });
      await pc.setLocalDescription(await pc.createOffer());
      const answer = send.processOffer(pc.localDescription!.sdp);
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      await until(() => send.dtlsState, (s) => s === 'connected');
      expect(send.dtlsState).toBe('connected');
      const producer = [...send.producers.values()][0]!;
      // VP8 keyframe payload descriptor (S=1, PID 0) then a keyframe byte.
      const payload = Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a]);
      const ssrc = transceiver.sender.ssrc;
      const pt = producer.codec.payloadType;
      for (let i = 0; i < 30; i++) {
        const header = new RtpHeader({ payloadType: pt, sequenceNumber: 1000 + i, timestamp: 3000 * i, ssrc, marker: true });
        await transceiver.sender.sendRtp(new RtpPacket(header, payload));
        await new Promise((r) => setTimeout(r, 10));
      }
      await until(() => producer.stats.packets, (n) => n >= 25);
      expect(producer.stats.packets).toBeGreaterThanOrEqual(25);
      expect(producer.ssrc).toBe(ssrc);
    });
  });
}
