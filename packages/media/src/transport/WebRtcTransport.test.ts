import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../net/UdpMux.js';
import type { PacketCorePath } from '../native/PacketCore.js';
import { packetPathsUnderTest } from '../native/testPaths.js';
import { DtlsCertificate } from './DtlsSession.js';
import { createPublisher, createSubscriber, publish, statsOf, subscribe, total, until, type Peer, type Publisher, type Stat } from './testPeers.js';
import { CLIENT_OFFER } from './testSdp.js';
import { WebRtcTransport } from './WebRtcTransport.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

for (const path of packetPathsUnderTest()) describe(`on the ${path} packet path`, () => suite(path));

function suite(path: PacketCorePath): void {
  let mux: UdpMux;
  let certificate: DtlsCertificate;
  const cleanups: Array<() => void> = [];

  beforeAll(async () => {
    mux = await engine.sockets.acquire('127.0.0.1', path === 'native' ? [65430, 65449] : [65000, 65031], 'test', path);
    certificate = await DtlsCertificate.generate();
  });
  afterAll(() => mux.release());
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  function transport(options: Partial<ConstructorParameters<typeof WebRtcTransport>[0]> = {}): WebRtcTransport {
    const t = new WebRtcTransport({ mux, certificate, ...options });
    cleanups.push(() => t.close());
    return t;
  }

  function publisher(videoTracks = 1): Publisher {
    const p = createPublisher(videoTracks);
    cleanups.push(() => p.stop());
    return p;
  }

  function subscriber(): Peer {
    const pc = createSubscriber();
    cleanups.push(() => pc.close());
    return pc;
  }

  describe('WebRtcTransport API', () => {
    it('processOffer() with a bad SDP rejects with SdpError and leaves the transport as it was', () => {
      const t = transport();
      expect(() => t.processOffer('v=0\r\nnot an sdp')).toThrow(expect.objectContaining({ code: 'INVALID_SDP' }));
      expect(() => t.processOffer(CLIENT_OFFER.replace(/a=ice-ufrag:.*\r\n/, ''))).toThrow(expect.objectContaining({ code: 'INVALID_SDP' }));
      expect(t.producers.size).toBe(0);
      expect(t.dtlsRole).toBeUndefined();
      const answer = t.processOffer(CLIENT_OFFER);
      expect([...t.producers.values()].map((p) => p.mid)).toEqual(['0', '1']);
      expect(answer).toContain('a=setup:passive');
      expect(answer).toMatch(/m=application 0 /);
      expect(t.dtlsRole).toBe('server');
    });

    it('a sending transport refuses consume() and createOffer(), a receiving one refuses processOffer(), with INVALID_STATE', () => {
      const send = transport();
      send.processOffer(CLIENT_OFFER);
      const producer = [...send.producers.values()][0]!;
      expect(() => send.consume(producer)).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
      expect(() => send.createOffer()).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
      const recv = transport();
      recv.consume(producer);
      expect(() => recv.processOffer(CLIENT_OFFER)).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    });

    it('close() is idempotent, closes the producers and consumers, and later calls throw OBJECT_CLOSED', () => {
      const send = transport();
      const recv = transport();
      send.processOffer(CLIENT_OFFER);
      const producers = [...send.producers.values()];
      const consumer = recv.consume(producers[0]!);
      expect(producers[0]!.consumers.has(consumer)).toBe(true);
      const closed: string[] = [];
      consumer.on('producerclose', () => closed.push('producerclose'));
      consumer.on('close', () => closed.push('consumer'));
      send.close();
      send.close();
      expect(producers.every((p) => p.isClosed)).toBe(true);
      expect(closed).toEqual(['producerclose', 'consumer']);
      expect(recv.consumers.size).toBe(0);
      expect(() => send.processOffer(CLIENT_OFFER)).toThrow(expect.objectContaining({ code: 'OBJECT_CLOSED' }));
      expect(() => recv.consume(producers[0]!)).toThrow(expect.objectContaining({ code: 'OBJECT_CLOSED' }));
      expect(send.iceState).toBe('closed');
    });
  });

  describe('WebRtcTransport on several shared sockets', () => {
    const ports = (on: PacketCorePath): [number, number] => (on === 'native' ? [65430, 65449] : [65000, 65031]);

    it('its description has a host candidate on each socket, in their order (RFC 8445 priorities); sockets of two packet paths, or none, are INVALID_ARGUMENT', async () => {
      // Any address of 127.0.0.0/8 is the machine's own on Linux.
      const second = await engine.sockets.acquire('127.0.0.2', ports(path), 'test', path);
      cleanups.push(() => second.release());
      const t = transport({ mux: [mux, second] });
      const answer = t.processOffer(CLIENT_OFFER);
      const firstSection = answer.split(/^m=/m)[1]!;
      const candidates = [...firstSection.matchAll(/^a=candidate:(\S+) 1 udp (\d+) (\S+) (\d+) typ host/gm)].map((m) => [m[1], Number(m[2]), m[3], Number(m[4])]);
      expect(candidates).toEqual([
        ['1', 2130706431, '127.0.0.1', mux.port],
        ['2', 2130706175, '127.0.0.2', second.port],
      ]);
      expect(() => transport({ mux: [] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      const other: PacketCorePath = path === 'native' ? 'typescript' : 'native';
      if (!packetPathsUnderTest().includes(other)) return;
      const elsewhere = await engine.sockets.acquire('127.0.0.3', ports(other), 'test', other);
      cleanups.push(() => elsewhere.release());
      expect(() => transport({ mux: [mux, elsewhere] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    });
  });

  describe('WebRtcTransport', () => {
    it('a libwebrtc client publishing audio and video on a sending transport connects over ICE-lite and DTLS, and its SRTP arrives at one producer per track', async () => {
      const send = transport();
      const pub = publisher();
      const producers: string[] = [];
      send.on('producer', (p) => producers.push(p.kind));
      await publish(pub.pc, send);
      expect(producers.sort()).toEqual(['audio', 'video']);
      const stats = await until(
        () => [...send.producers.values()].map((p) => p.stats.packets),
        (counts) => counts.every((n) => n > 20),
      );
      expect(stats.every((n) => n > 20), JSON.stringify(send.getStats())).toBe(true);
      expect(send.iceState).toBe('connected');
      expect(send.dtlsState).toBe('connected');
      const s = send.getStats();
      expect(s.srtpProfile).toBe(1);
      expect(s.droppedSrtp).toBe(0);
      expect(s.selectedTuple?.[0]).toBeDefined();
    });

    it('a second client receives several consumers on one receiving transport and decodes their frames', async () => {
      const send = transport();
      const recv = transport();
      const pub = publisher(2);
      await publish(pub.pc, send);
      const sub = subscriber();
      const consumers = [...send.producers.values()].map((p) => recv.consume(p));
      expect(consumers.map((c) => c.kind).sort()).toEqual(['audio', 'video', 'video']);
      await subscribe(sub, recv);
      const stats = await until(
        () => statsOf(sub),
        (s) => s.filter((x) => x.type === 'inbound-rtp' && x.kind === 'video' && Number(x['framesDecoded'] ?? 0) > 10).length === 2 && total(s, 'inbound-rtp', 'packetsReceived', 'audio') > 20,
      );
      const videos = stats.filter((x) => x.type === 'inbound-rtp' && x.kind === 'video');
      expect(videos.map((v) => Number(v['framesDecoded'] ?? 0) > 10), JSON.stringify(recv.getStats())).toEqual([true, true]);
      expect(total(stats, 'inbound-rtp', 'packetsReceived', 'audio')).toBeGreaterThan(20);
      expect(new Set(videos.map((v) => v.ssrc))).toEqual(new Set(consumers.filter((c) => c.kind === 'video').map((c) => c.ssrc)));
      expect(recv.dtlsState).toBe('connected');
      // A bandwidth probe puts padding into a video stream: the subscriber keeps decoding both after it.
      const decoded = videos.map((v) => Number(v['framesDecoded'] ?? 0));
      await until(() => recv.getStats().transportCcFeedbacks, (n) => n > 0);
      expect(recv.probe(2_000_000)).toBe(true);
      const later = await until(
        () => statsOf(sub),
        (s) => s.filter((x) => x.type === 'inbound-rtp' && x.kind === 'video').every((x, i) => Number(x['framesDecoded'] ?? 0) > decoded[i]! + 20),
      );
      expect(later.filter((x) => x.type === 'inbound-rtp' && x.kind === 'video').map((x, i) => Number(x['framesDecoded'] ?? 0) > decoded[i]! + 20)).toEqual([true, true]);
      expect(recv.getStats().bandwidthEstimate?.probes).toBe(1);
    });

    it('a receiving transport renegotiates under media: a tenth consumer is added, one is removed (its m-line goes to port 0) and a new one takes the freed m-line', async () => {
      const send = transport();
      const recv = transport();
      const pub = publisher(1);
      await publish(pub.pc, send);
      const video = [...send.producers.values()].find((p) => p.kind === 'video')!;
      const audio = [...send.producers.values()].find((p) => p.kind === 'audio')!;
      const sub = subscriber();
      const consumers = Array.from({ length: 9 }, (_, i) => recv.consume(i % 2 === 0 ? video : audio));
      await subscribe(sub, recv);
      const decoding = async (ssrcs: number[]): Promise<Map<number, number>> => {
        const stats = await statsOf(sub);
        return new Map(ssrcs.map((ssrc) => [ssrc, arrived(stats, ssrc)]));
      };
      const ssrcs = (list: typeof consumers): number[] => list.map((c) => c.ssrc);
      let seen = await until(() => decoding(ssrcs(consumers)), (m) => [...m.values()].every((n) => n > 5));
      expect([...seen.values()].every((n) => n > 5), JSON.stringify([...seen])).toBe(true);

      // A tenth m-line under media.
      const tenth = recv.consume(video);
      consumers.push(tenth);
      await subscribe(sub, recv);
      expect(sub.getTransceivers().length).toBe(10);
      seen = await until(() => decoding([tenth.ssrc]), (m) => m.get(tenth.ssrc)! > 5);
      expect(seen.get(tenth.ssrc)).toBeGreaterThan(5);

      // One removed: its m-line is closed (port 0), the others keep flowing.
      const removed = consumers[2]!;
      removed.close();
      const offer = recv.createOffer();
      expect(offer).toMatch(new RegExp(`m=video 0 [^\\r]*\\r\\nc=IN IP4 0.0.0.0\\r\\na=mid:${removed.mid}\\r\\na=inactive`));
      await subscribe(sub, recv);
      const remaining = consumers.filter((c) => c !== removed);
      const before = await decoding(ssrcs(remaining));
      seen = await until(() => decoding(ssrcs(remaining)), (m) => remaining.every((c) => m.get(c.ssrc)! > before.get(c.ssrc)! + 3));
      expect(remaining.every((c) => seen.get(c.ssrc)! > before.get(c.ssrc)! + 3), JSON.stringify([...seen])).toBe(true);
      expect(sub.getTransceivers().find((t) => t.mid === removed.mid)?.currentDirection ?? 'stopped').toMatch(/stopped|inactive/);

      // The freed m-line is recycled (new mid) for the next consumer.
      const again = recv.consume(video);
      expect(recv.createOffer().match(/^m=/gm)?.length).toBe(10);
      await subscribe(sub, recv);
      seen = await until(() => decoding([again.ssrc]), (m) => m.get(again.ssrc)! > 5);
      expect(seen.get(again.ssrc)).toBeGreaterThan(5);
    });

    it('a sending transport takes re-offers: a track added under media makes a producer, a removed one closes its producer', async () => {
      const send = transport();
      const pub = publisher(1);
      await publish(pub.pc, send);
      expect(send.producers.size).toBe(2);
      const extra = createPublisher(1);
      cleanups.push(() => extra.stop());
      const track = extra.pc.getTransceivers()[0]!.sender.track!;
      const sender = pub.pc.addTrack(track);
      const added: string[] = [];
      send.on('producer', (p) => added.push(p.mid));
      await publish(pub.pc, send);
      expect(added.length).toBe(1);
      const third = [...send.producers.values()].find((p) => p.mid === added[0])!;
      await until(() => third.stats.packets, (n) => n > 20);
      expect(third.stats.packets).toBeGreaterThan(20);

      pub.pc.removeTrack(sender);
      const closed = third.waitFor('close', 5000);
      await publish(pub.pc, send);
      await closed;
      expect(send.producers.size).toBe(2);
      expect(third.isClosed).toBe(true);
    });

    it('NACKs are answered from the history (ours and the publisher\'s RTX), PLI reaches the publisher, SR, RR and REMB flow both ways', async () => {
      let incoming = 0;
      let videoSsrc = -1;
      const send = transport({
        // Every 40th video packet from the publisher is lost on the way in.
        testHooks: { dropIncoming: (d) => d[0]! >= 128 && (d[1]! < 192 || d[1]! > 223) && d.readUInt32BE(8) === videoSsrc && ++incoming % 40 === 0 },
        maxIncomingBitrate: 300_000,
      });
      const dropped = new Set<number>();
      let outgoing = 0;
      let lostForGood: number | undefined;
      const recv = transport({
        // The subscriber's own REMB is under test: no transport-cc offered (with it libwebrtc sends no REMB).
        bandwidthEstimation: false,
        testHooks: {
          dropOutgoingRtp: (ssrc, seq) => {
            if (ssrc !== videoConsumer?.ssrc) return false;
            outgoing++;
            // Packets 200-219 are lost for good (retransmissions too): the subscriber gives up on them and asks for a keyframe.
            if (outgoing === 200) lostForGood = seq;
            if (lostForGood !== undefined && ((seq - lostForGood) & 0xffff) < 20) return true;
            // Every 30th other packet is lost the first time only: a NACK brings it back.
            if (outgoing % 30 !== 0 || dropped.has(seq)) return false;
            dropped.add(seq);
            return true;
          },
        },
      });
      const pub = publisher(1);
      await publish(pub.pc, send);
      const video = [...send.producers.values()].find((p) => p.kind === 'video')!;
      videoSsrc = video.ssrc!;
      expect(video.rtxSsrc).toBeDefined();
      const sub = subscriber();
      const videoConsumer = recv.consume(video);
      const audioConsumer = recv.consume([...send.producers.values()].find((p) => p.kind === 'audio')!);
      await subscribe(sub, recv);

      await until(
        () => [videoConsumer.stats.retransmitted, video.stats.retransmissionsReceived, videoConsumer.stats.receiverReports, video.stats.senderReports, videoConsumer.stats.plisReceived + videoConsumer.stats.firsReceived],
        (v) => v.every((n) => n > 0) && videoConsumer.estimatedBitrate !== undefined,
      );
      // Ours: the subscriber asked for what we dropped, and got it from the producer's history.
      expect(videoConsumer.stats.nacksReceived).toBeGreaterThan(0);
      expect(videoConsumer.stats.retransmitted).toBeGreaterThan(0);
      // The publisher's: we asked, it resent over RTX, the producer unwrapped it.
      expect(video.stats.nacksSent).toBeGreaterThan(0);
      expect(video.stats.retransmissionsReceived).toBeGreaterThan(0);
      // PLI: the subscriber's keyframe request reached the producer, and the publisher.
      expect(videoConsumer.stats.plisReceived + videoConsumer.stats.firsReceived).toBeGreaterThan(0);
      expect(video.stats.keyframeRequestsSent).toBeGreaterThan(0);
      const pubStats = await until(() => statsOf(pub.pc), (st) => total(st, 'outbound-rtp', 'pliCount', 'video') > 0 && st.some((x) => x.type === 'remote-inbound-rtp'));
      expect(total(pubStats, 'outbound-rtp', 'pliCount', 'video')).toBeGreaterThan(0);
      // SR from the publisher, our RR back to it (it computes a round trip from our LSR/DLSR).
      expect(video.stats.senderReports).toBeGreaterThan(0);
      expect(pubStats.some((x) => x.type === 'remote-inbound-rtp'), JSON.stringify(pubStats.map((x) => x.type))).toBe(true);
      // Our SR to the subscriber, its RR back with a round trip, its REMB.
      expect(videoConsumer.stats.senderReportsSent).toBeGreaterThan(0);
      expect(videoConsumer.stats.receiverReports).toBeGreaterThan(0);
      await until(() => videoConsumer.stats.roundTripTime, (rtt) => rtt !== undefined);
      expect(videoConsumer.stats.roundTripTime).toBeGreaterThanOrEqual(0);
      expect(videoConsumer.estimatedBitrate).toBeGreaterThan(0);
      expect(audioConsumer.stats.packets).toBeGreaterThan(0);
      const subStats = await statsOf(sub);
      expect(total(subStats, 'inbound-rtp', 'nackCount', 'video')).toBeGreaterThan(0);
      // Our REMB caps what the publisher may send.
      const pair = pubStats.find((x) => x.type === 'candidate-pair' && x['nominated'] === true);
      expect(Number(pair?.['availableOutgoingBitrate'])).toBeLessThanOrEqual(300_000);
    });

    it('a paused consumer sends nothing and a resumed one starts again from a keyframe, without a new offer', async () => {
      const send = transport();
      const recv = transport();
      const pub = publisher(1);
      await publish(pub.pc, send);
      const sub = subscriber();
      const consumer = recv.consume([...send.producers.values()].find((p) => p.kind === 'video')!);
      await subscribe(sub, recv);
      const frames = async (): Promise<number> => arrived(await statsOf(sub), consumer.ssrc);
      await until(frames, (n) => n > 5);
      consumer.pause();
      await new Promise((r) => setTimeout(r, 200));
      const sent = consumer.stats.packets;
      await new Promise((r) => setTimeout(r, 500));
      expect(consumer.stats.packets).toBe(sent);
      const requests = consumer.producer.stats.keyframeRequests;
      consumer.resume();
      const atResume = await frames();
      const after = await until(frames, (n) => n > atResume + 5);
      expect(after).toBeGreaterThan(atResume + 5);
      expect(consumer.producer.stats.keyframeRequests).toBeGreaterThan(requests);
    });
  });
}

/** What shows one stream reached the client: decoded frames for video, packets for audio. */
function arrived(stats: readonly Stat[], ssrc: number): number {
  const inbound = stats.find((x) => x.type === 'inbound-rtp' && x.ssrc === ssrc);
  return Number(inbound?.[inbound.kind === 'video' ? 'framesDecoded' : 'packetsReceived'] ?? 0);
}
