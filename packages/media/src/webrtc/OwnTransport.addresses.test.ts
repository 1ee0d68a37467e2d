import { networkInterfaces } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RtpPacket } from 'werift';
import type { PacketCorePath } from '../native/PacketCore.js';
import { packetPathsUnderTest } from '../native/testPaths.js';

import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import { DtlsCertificate } from '../transport/DtlsSession.js';
import { LitePeer } from '../transport/testLitePeer.js';
import type { SelectedCandidatePair, WebRtcEndpoint } from './WebRtcEndpoint.js';

/*
 * A WebRtcEndpoint on the own transport with two ICE addresses: 127.0.0.1 and the
 * machine's other IPv4 address (found at run time; the file skips on a machine with
 * none). A host candidate on each, a mux binding on each shared port, and everything
 * sent from the socket of the pair the peer selected, on both packet paths.
 */

// This file's UDP ports: 58640-58649 (TypeScript path), 58650-58659 (native).
const LOOPBACK = '127.0.0.1';
const OTHER = Object.values(networkInterfaces())
  .flat()
  .find((info) => info?.family === 'IPv4' && !info.internal)?.address;

/** A browser-shaped offer of one sendrecv VP8 m-line (SSRC 1111), for a LitePeer to fill in. */
const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=msid-semantic: WMS s1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789abcdefghijkl',
  'a=fingerprint:sha-256 AA:BB:CC',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=msid:s1 t1',
  'a=rtcp-mux',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 nack',
  'a=rtcp-fb:96 nack pli',
  'a=ssrc:1111 cname:me',
  '',
].join('\r\n');

/** A VP8 packet of SSRC 1111 (its payload descriptor says keyframe or not). */
function rtp(seq: number, keyframe: boolean): Buffer {
  const b = Buffer.alloc(12 + 200, seq & 0xff);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(seq * 3000, 4);
  b.writeUInt32BE(1111, 8);
  b[12] = 0x10;
  b[13] = keyframe ? 0x00 : 0x01;
  return b;
}

function attributeOf(sdp: string, name: string): string {
  const value = new RegExp(`^a=${name}:(.+)$`, 'm').exec(sdp)?.[1]?.trim();
  if (!value) throw new Error(`no a=${name} in the answer`);
  return value;
}

/** Address and priority of a candidate line. */
function hostOf(candidate: string): { address: string; port: number; priority: number; type: string } {
  const parts = candidate.split(' ');
  return { priority: Number(parts[3]), address: parts[4]!, port: Number(parts[5]), type: parts[7]! };
}

describe.runIf(OTHER !== undefined)('WebRtcEndpoint on the own transport with two ICE addresses', () => {
  for (const path of packetPathsUnderTest()) describe(`on the ${path} packet path`, () => suite(path));
});

function suite(path: PacketCorePath): void {
  const other = OTHER!;
  const h = useMediaHarness(path === 'native' ? [58650, 58659] : [58640, 58649]);
  let certificate: DtlsCertificate;
  beforeAll(async () => {
    certificate = await DtlsCertificate.generate();
  });

  const endpoint = (): WebRtcEndpoint => h.pipeline({ packetCore: path, iceAddresses: [LOOPBACK, other] }).createWebRtcEndpoint();

  // A peer on 0.0.0.0 sends to each of our addresses from its own address there (both ends of the pair move); one on
  // 127.0.0.1 sends to both from there (the same address of the peer, another socket of ours).
  for (const peerAddress of ['0.0.0.0', LOOPBACK]) {
    it(`announces a host candidate on each address (the first preferred), carries media on the pair the peer nominates, and follows the peer when it nominates a pair on the other address (a peer on ${peerAddress})`, async () => {
      await movingPeer(peerAddress);
    }, 40_000);
  }

  async function movingPeer(peerAddress: string): Promise<void> {
    const ep = endpoint();
    ep.connect(ep);
    const candidates: string[] = [];
    ep.on('iceCandidate', (c) => candidates.push(c.candidate));
    const pairs: SelectedCandidatePair[] = [];
    ep.on('candidatePairSelected', (pair) => pairs.push(pair));
    const got: Buffer[] = [];
    const peer = h.track(await LitePeer.create(certificate, 0, (packet) => got.push(Buffer.from(packet)), LOOPBACK, peerAddress));
    const from = new Map<string, number>();
    peer.socket.on('message', (data, rinfo) => {
      if (data[0]! >= 128 && data[0]! <= 191) from.set(`${rinfo.address}:${rinfo.port}`, (from.get(`${rinfo.address}:${rinfo.port}`) ?? 0) + 1);
    });

    const answer = await ep.processOffer(peer.offer(OFFER));
    await ep.gatherCandidates();
    const port = ep.sharedUdpPort!;
    expect(h.engine.sockets.find(LOOPBACK, port)?.packetPath).toBe(path);
    const hosts = candidates.map(hostOf);
    expect(hosts.map((c) => [c.type, c.address])).toEqual([['host', LOOPBACK], ['host', other]]);
    expect(hosts[0]!.port).toBe(port);
    expect(h.engine.sockets.find(other, hosts[1]!.port)?.packetPath).toBe(path);
    // RFC 8445 §5.1.2.1: type preference 126, local preference 65535 then 65534, component 1.
    expect(hosts.map((c) => c.priority)).toEqual([2130706431, 2130706175]);
    const otherPort = hosts[1]!.port;

    peer.serverPort = port;
    await peer.connect({ ufrag: attributeOf(answer, 'ice-ufrag'), pwd: attributeOf(answer, 'ice-pwd'), fingerprint: attributeOf(answer, 'fingerprint').split(' ')[1]! });
    let seq = 1;
    const media = setInterval(() => peer.sendRtp(rtp(seq++, seq % 25 === 2)), 20);
    // Consent, and the nomination of the pair it sends on.
    const checks = setInterval(() => peer.check(), 500);
    h.track({
      close: () => {
        clearInterval(media);
        clearInterval(checks);
      },
    });

    // The pair on 127.0.0.1: the loopback comes back from there.
    await until(() => got.length >= 10 && ep.getConnectionState() === 'connected', 15_000);
    expect([...from.keys()]).toEqual([`${LOOPBACK}:${port}`]);
    expect(hostOf(pairs.at(-1)!.localCandidate).address).toBe(LOOPBACK);
    expect(hostOf(pairs.at(-1)!.remoteCandidate).address).toBe(LOOPBACK);

    // The peer nominates a pair on the other address (its own address there too) and sends from there.
    peer.serverHost = other;
    peer.serverPort = otherPort;
    peer.check();
    await until(() => (from.get(`${other}:${otherPort}`) ?? 0) >= 10, 15_000);
    const selected = pairs.at(-1)!;
    expect(hostOf(selected.localCandidate)).toMatchObject({ address: other, port: otherPort });
    expect(hostOf(selected.remoteCandidate).address).toBe(peerAddress === LOOPBACK ? LOOPBACK : other);
    // Nothing more from the old pair (what was in flight has arrived), and the media goes on.
    await new Promise((r) => setTimeout(r, 200));
    const old = from.get(`${LOOPBACK}:${port}`);
    const before = got.length;
    await until(() => got.length >= before + 20, 10_000);
    expect(from.get(`${LOOPBACK}:${port}`)).toBe(old);
    expect(ep.getConnectionState()).toBe('connected');
    expect(ep.getStats().invalidPackets).toBe(0);
  }

  it('with an announced address, one host candidate: that address and the first address\'s shared port', async () => {
    const ep = h.pipeline({ packetCore: path, iceAddresses: [LOOPBACK, other], announcedAddress: '198.51.100.7' }).createWebRtcEndpoint();
    const candidates: string[] = [];
    ep.on('iceCandidate', (c) => candidates.push(c.candidate));
    const peer = h.track(await LitePeer.create(certificate, 0));
    await ep.processOffer(peer.offer(OFFER));
    await ep.gatherCandidates();
    expect(candidates.map(hostOf)).toEqual([{ type: 'host', address: '198.51.100.7', port: ep.sharedUdpPort, priority: 2130706431 }]);
  });

  it('in port-range mode, a port of the range on each address, a host candidate on each, media on the pair the peer nominates; closing gives both ports back', async () => {
    const range: [number, number] = path === 'native' ? [58650, 58659] : [58640, 58649];
    const ep = h.pipeline({ packetCore: path, iceAddresses: [LOOPBACK, other], udpPort: false, portRange: range }).createWebRtcEndpoint();
    ep.connect(ep);
    const candidates: string[] = [];
    ep.on('iceCandidate', (c) => candidates.push(c.candidate));
    const pc = h.peer();
    const pub = new FakePublisher(8);
    pub.attach(pc, 'sendrecv');
    const video = collect(pc, 'video');
    await negotiate(pc, ep);
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length >= 20, 15_000);
    pub.stop();
    const hosts = candidates.map(hostOf);
    expect(hosts.map((c) => c.address)).toEqual([LOOPBACK, other]);
    for (const c of hosts) expect(c.port >= range[0] && c.port <= range[1]).toBe(true);
    expect(ep.reservedPorts).toEqual([hosts[0]!.port, hosts[0]!.port]);
    expect(ep.sharedUdpPort).toBeUndefined();
    const bound = (): number => h.engine.sockets.all().filter((m) => m.port >= range[0] && m.port <= range[1]).length;
    expect(bound()).toBe(2);
    ep.close();
    await until(() => bound() === 0, 5_000);
  });

  it('a full ICE peer checks both host candidates; the media flows on the pair it nominates', async () => {
    const ep = endpoint();
    ep.connect(ep);
    const pairs: SelectedCandidatePair[] = [];
    ep.on('candidatePairSelected', (pair) => pairs.push(pair));
    const candidates: string[] = [];
    ep.on('iceCandidate', (c) => candidates.push(c.candidate));
    const pc = h.peer();
    const pub = new FakePublisher(4);
    pub.attach(pc, 'sendrecv');
    const video = collect(pc, 'video');
    await negotiate(pc, ep);
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length >= 20, 15_000);
    pub.stop();
    expect(candidates.map((c) => hostOf(c).address)).toEqual([LOOPBACK, other]);
    const local = hostOf(pairs.at(-1)!.localCandidate);
    expect([LOOPBACK, other]).toContain(local.address);
    // The peer's 5-tuple was learned on that address's socket.
    expect(h.engine.sockets.find(local.address, local.port)!.getStats().tuples).toBeGreaterThanOrEqual(1);
    expect(video[0]!.payload[2]).toBe(4);
  });

  it('makes the offer (generateOffer) with a candidate on each address; the peer answers and the media flows on the selected pair', async () => {
    const p = h.pipeline({ packetCore: path, iceAddresses: [LOOPBACK, other] });
    const a = p.createWebRtcEndpoint();
    const b = p.createWebRtcEndpoint();
    a.connect(b);
    const pa = h.peer();
    const pub = new FakePublisher(6);
    pub.attach(pa);
    await negotiate(pa, a);
    await waitForConnected(pa);
    pub.start();
    const pb = h.peer();
    b.on('iceCandidate', (c) => void pb.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined }));
    pb.onIceCandidate.subscribe((c) => {
      if (c) void b.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }).catch(() => undefined);
    });
    const pairs: SelectedCandidatePair[] = [];
    b.on('candidatePairSelected', (pair) => pairs.push(pair));
    const video: RtpPacket[] = [];
    pb.onTrack.subscribe((track) => {
      if (track.kind === 'video') track.onReceiveRtp.subscribe((packet) => video.push(packet));
    });
    await pb.setRemoteDescription({ type: 'offer', sdp: await b.generateOffer() });
    await pb.setLocalDescription(await pb.createAnswer());
    await b.processAnswer(pb.localDescription!.sdp);
    await b.gatherCandidates();
    await waitForConnected(pb);
    await until(() => video.length > 10, 15_000);
    pub.stop();
    expect(b.getConnectionState()).toBe('connected');
    expect([LOOPBACK, other]).toContain(hostOf(pairs.at(-1)!.localCandidate).address);
    expect(video[0]!.payload[2]).toBe(6);
  });
}
