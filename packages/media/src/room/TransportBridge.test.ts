import { RtpHeader, RtpPacket } from 'werift';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MediaElement } from '../core/MediaElement.js';
import { MediaPipeline } from '../core/MediaPipeline.js';
import type { MediaObject } from '../core/MediaObject.js';
import { UdpMux } from '../net/UdpMux.js';
import type { PacketCorePath } from '../native/PacketCore.js';
import { nack } from '../native/testCore.js';
import { packetPathsUnderTest } from '../native/testPaths.js';
import { InboundStream } from '../rtp/InboundStream.js';
import { DtlsCertificate } from '../transport/DtlsSession.js';
import { LitePeer, rtpPayload } from '../transport/testLitePeer.js';
import { until } from '../transport/testPeers.js';
import { CLIENT_OFFER } from '../transport/testSdp.js';
import { WebRtcTransport } from '../transport/WebRtcTransport.js';
import { TransportBridge } from './TransportBridge.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

// This file's UDP ports: 65410-65414 (TypeScript path), 65415-65419 (native).
for (const path of packetPathsUnderTest()) describe(`TransportBridge on the ${path} packet path`, () => suite(path));

/** An element of the graph that keeps what it is sent, and sends what the test gives it. */
class TestElement extends MediaElement {
  protected readonly forwardsInput = false;
  readonly received: RtpPacket[] = [];

  constructor(parent: MediaObject) {
    super('TestElement', parent);
  }

  acceptRtp(_stream: InboundStream, packet: RtpPacket): void {
    this.received.push(packet);
  }

  send(stream: InboundStream, packet: RtpPacket): void {
    this.emitRtp(stream, packet, performance.now());
  }

  protected onClose(): void {
    this.disconnectAll();
  }
}

/** A VP8 packet of SSRC 1111 (the offer's), 300 bytes of `fill`. */
function rtp(seq: number, ts: number, keyframe: boolean, fill: number): Buffer {
  const b = Buffer.alloc(12 + 300, fill);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(1111, 8);
  b[12] = 0x10;
  b[13] = keyframe ? 0x00 : 0x01;
  return b;
}

function suite(path: PacketCorePath): void {
  let mux: UdpMux;
  let certificate: DtlsCertificate;
  let pipeline: MediaPipeline;
  const cleanups: Array<() => void> = [];
  beforeAll(async () => {
    mux = await engine.sockets.acquire('127.0.0.1', path === 'native' ? [65415, 65419] : [65410, 65414], 'test', path);
    certificate = await DtlsCertificate.generate();
    pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'] });
  });
  afterAll(() => {
    pipeline.close();
    mux.release();
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  /** What the packet core handed up and was fed (zeros on the TypeScript path). */
  const core = (): { tapped: number; fed: number; producers: number } => mux.native?.core.stats() ?? { tapped: 0, fed: 0, producers: 0 };

  it("a bridge's sinks get a producer's packets from its first keyframe on; while no sink is connected none of them reaches JavaScript", async () => {
    const send = new WebRtcTransport({ mux, certificate });
    const pub = await LitePeer.create(certificate, mux.port);
    const bridge = new TransportBridge(pipeline);
    const sink = new TestElement(pipeline);
    cleanups.push(() => send.close(), () => pub.close(), () => bridge.close(), () => sink.close());
    send.processOffer(pub.offer(CLIENT_OFFER));
    expect(send.packetPath).toBe(path);
    const video = [...send.producers.values()].find((p) => p.kind === 'video')!;
    bridge.attach(video);
    await pub.connect({ ufrag: send.ufrag, pwd: send.pwd, fingerprint: certificate.fingerprint });
    await until(() => send.dtlsState, (s) => s === 'connected', 10_000);

    // No sink: the producer receives, nothing goes up.
    const before = core();
    let seq = 100;
    for (let i = 0; i < 8; i++) pub.sendRtp(rtp(seq++, 1000 + i * 3000, i === 0, i));
    await until(() => video.stats.packets, (n) => n === 8, 10_000);
    expect(core().tapped).toBe(before.tapped);

    // A sink: from the next keyframe on, in the bridge consumer's numbering.
    bridge.connect(sink, 'video');
    for (let i = 0; i < 10; i++) pub.sendRtp(rtp(seq++, 50_000 + i * 3000, i === 2, 0x40 + i));
    await until(() => sink.received.length, (n) => n >= 8, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.received.length).toBe(8);
    expect(sink.received[0]!.payload[1]).toBe(0x00);
    for (let k = 1; k < 8; k++) {
      expect((sink.received[k]!.header.sequenceNumber - sink.received[k - 1]!.header.sequenceNumber) & 0xffff).toBe(1);
      expect(sink.received[k]!.payload.equals(rtp(0, 0, false, 0x42 + k).subarray(12))).toBe(true);
    }
    expect(bridge.isReceiving('video')).toBe(true);
    if (path === 'native') expect(core().tapped - before.tapped).toBe(10);

    // The sink goes: the producer is no longer tapped.
    bridge.disconnect(sink, 'video');
    const after = core();
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 5; i++) pub.sendRtp(rtp(seq++, 100_000 + i * 3000, false, 0x60 + i));
    await until(() => video.stats.packets, (n) => n === 23, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.received.length).toBe(8);
    expect(core().tapped).toBe(after.tapped);
  });

  it("what a bridge's source sends reaches a receiving transport's subscriber rewritten, and the subscriber's NACKs are answered", async () => {
    const producersAtStart = core().producers;
    const bridge = new TransportBridge(pipeline);
    const source = new TestElement(pipeline);
    // The fifth packet out is lost on the way (once: its retransmission goes).
    let out = 0;
    let dropped: number | undefined;
    const dropOutgoingRtp = (_ssrc: number, seq: number): boolean => {
      if (++out !== 5) return false;
      dropped = seq;
      return true;
    };
    const recv = new WebRtcTransport({ mux, certificate, testHooks: { dropOutgoingRtp } });
    const got: Buffer[] = [];
    const sub = await LitePeer.create(certificate, mux.port, (p) => got.push(Buffer.from(p)));
    cleanups.push(() => recv.close(), () => sub.close(), () => bridge.close(), () => source.close());
    source.connect(bridge, 'video');
    const keyframes: number[] = [];
    const stream = new InboundStream('video', 7777, { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }, () => keyframes.push(1));
    cleanups.push(() => stream.close());
    const packet = (seq: number, keyframe: boolean, fill: number): RtpPacket => {
      const raw = rtp(seq, seq * 3000, keyframe, fill);
      return new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp: seq * 3000, ssrc: 7777, marker: true }), raw.subarray(12));
    };
    // The first packet makes the bridge's output producer.
    source.send(stream, packet(1, true, 1));
    const output = bridge.output('video')!;
    expect(output).toBeDefined();
    const consumer = recv.consume(output);
    recv.processAnswer(sub.answer(recv.createOffer()));
    const srtp = await sub.connect({ ufrag: recv.ufrag, pwd: recv.pwd, fingerprint: certificate.fingerprint });
    await until(() => recv.dtlsState, (s) => s === 'connected', 10_000);

    const before = core();
    for (let seq = 2; seq < 14; seq++) source.send(stream, packet(seq, seq === 3, seq));
    await until(() => got.length, (n) => n >= 10, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.length).toBe(10);
    expect(got.every((p) => p.readUInt32BE(8) === consumer.ssrc && (p[1]! & 0x7f) === 96)).toBe(true);
    expect(rtpPayload(got[0]!)[1]).toBe(0x00);
    const gap = got.findIndex((p, k) => k > 0 && ((p.readUInt16BE(2) - got[k - 1]!.readUInt16BE(2)) & 0xffff) !== 1);
    expect(gap).toBe(4);
    expect(got[4]!.readUInt16BE(2)).toBe((dropped! + 1) & 0xffff);
    expect(consumer.stats.packets).toBe(11);
    if (path === 'native') expect(core().fed - before.fed).toBe(12);

    // The subscriber asks for the lost one and gets it with its number: the source's seventh packet.
    const n = nack(0x9999, consumer.ssrc, [dropped!]);
    const buf = Buffer.alloc(n.length + 32);
    n.copy(buf);
    sub.send(buf.subarray(0, srtp.outbound.protectRtcp(buf, n.length)));
    await until(() => got.length, (k) => k >= 11, 10_000);
    expect(got[10]!.readUInt16BE(2)).toBe(dropped);
    expect(rtpPayload(got[10]!).equals(rtp(0, 0, false, 7).subarray(12))).toBe(true);
    expect(consumer.stats.retransmitted).toBe(1);

    // The output producer closes with the bridge; its entry in the core goes with it.
    bridge.close();
    await until(() => consumer.isClosed, (c) => c, 5000);
    expect(core().producers).toBe(producersAtStart);
  });
}
