import { describe, expect, it } from 'vitest';
import type { MediaConfig } from '../config.js';
import { packetPathsUnderTest } from '../native/testPaths.js';
import { UdpMux } from '../net/UdpMux.js';
import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import { parseCandidate } from './sdp.js';

/*
 * Kurento's WebRtcEndpoint on the engine's own transport in port-range mode (udpPort
 * false): each endpoint's transport on a mux of its own, bound on one port of the
 * pipeline's range, on both packet paths. Other port-range cases are in WebRtcEndpoint,
 * Negotiation, PacketPath and SinglePort.test.ts.
 */

// This file's UDP ports: 62350-62399 (62380-62391 for the cases with ranges of their own).
const HOST = '127.0.0.1';
const h = useMediaHarness([62350, 62379]);

/** The muxes of this process bound on a port of [min, max]. */
function muxesIn(min: number, max: number): UdpMux[] {
  return h.engine.sockets.all().filter((mux) => mux.port >= min && mux.port <= max);
}

/** An offer of a werift peer sending audio and video. */
async function peerOffer(tag: number): Promise<string> {
  const pc = h.peer();
  new FakePublisher(tag).attach(pc, 'sendrecv');
  await pc.setLocalDescription(await pc.createOffer());
  return pc.localDescription!.sdp;
}

describe.each(packetPathsUnderTest())('WebRtcEndpoint on the own transport in port-range mode, %s packet path', (path) => {
  const config: Partial<MediaConfig> = { packetCore: path, udpPort: false };

  it('each endpoint takes one port of the range for a socket of its own; media flows on it; closing gives the port back and the other goes on', async () => {
    const p = h.pipeline(config);
    const eps = [p.createWebRtcEndpoint(), p.createWebRtcEndpoint()];
    const candidates: string[][] = [[], []];
    const peers = eps.map((ep, i) => {
      ep.connect(ep);
      ep.on('iceCandidate', (c) => candidates[i]!.push(c.candidate));
      const pc = h.peer();
      const pub = new FakePublisher(30 + i);
      pub.attach(pc, 'sendrecv');
      return { pc, pub, video: collect(pc, 'video'), audio: collect(pc, 'audio') };
    });
    await Promise.all(peers.map((peer, i) => negotiate(peer.pc, eps[i]!)));
    await Promise.all(peers.map((peer) => waitForConnected(peer.pc)));
    for (const peer of peers) peer.pub.start();
    await until(() => peers.every((peer) => peer.video.length >= 20 && peer.audio.length >= 20), 20_000);

    const ports = eps.map((ep) => ep.reservedPorts![0]);
    for (const [i, ep] of eps.entries()) {
      // One port: RTP and RTCP muxed, audio and video BUNDLEd, one host candidate on it.
      expect(ep.reservedPorts).toEqual([ports[i], ports[i]]);
      expect(ports[i]).toBeGreaterThanOrEqual(62350);
      expect(ports[i]).toBeLessThanOrEqual(62379);
      expect(ep.sharedUdpPort).toBeUndefined();
      expect(candidates[i]!.map((c) => parseCandidate(c)!)).toMatchObject([{ address: HOST, port: ports[i], type: 'host' }]);
      const mux = h.engine.sockets.find(HOST, ports[i]!)!;
      expect(mux.users).toBe(1);
      expect(mux.packetPath).toBe(path);
      expect(ep.getStats().video.packetsReceived).toBeGreaterThan(0);
      expect(ep.getStats().invalidPackets).toBe(0);
    }
    expect(ports[0]).not.toBe(ports[1]);
    expect(p.ports.inUse).toBe(2);

    eps[0]!.close();
    expect(eps[0]!.reservedPorts).toBeUndefined();
    expect(p.ports.inUse).toBe(1);
    expect(h.engine.sockets.find(HOST, ports[0]!)).toBeUndefined();
    const before = peers[1]!.video.length;
    await until(() => peers[1]!.video.length > before + 20);
    for (const peer of peers) peer.pub.stop();
    eps[1]!.close();
    expect(p.ports.inUse).toBe(0);
    expect(muxesIn(62350, 62379)).toEqual([]);
  });

  it('a transport let go when ICE fails gives its port back', async () => {
    const p = h.pipeline(config);
    const ep = p.createWebRtcEndpoint();
    // The endpoint offers, so it checks its peer (the controlling agent); the peer answers and is gone before any check.
    const offer = await ep.generateOffer();
    const port = ep.reservedPorts![0];
    expect(h.engine.sockets.find(HOST, port)?.users).toBe(1);
    const pc = h.peer();
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    await pc.setLocalDescription(await pc.createAnswer());
    const answer = pc.localDescription!.sdp;
    await pc.close();
    await ep.processAnswer(answer);
    await ep.gatherCandidates();

    await ep.waitFor('connectionStateChange', 20_000, (state) => state === 'failed');

    expect(ep.getIceState()).toBe('failed');
    expect(ep.reservedPorts).toBeUndefined();
    expect(p.ports.inUse).toBe(0);
    expect(h.engine.sockets.find(HOST, port)).toBeUndefined();
  });

  it('a range used up answers NO_PORT_AVAILABLE naming it and makes nothing; a port given back serves the next offer', async () => {
    const p = h.pipeline({ ...config, portRange: [62390, 62391] });
    const [a, b, c] = [p.createWebRtcEndpoint(), p.createWebRtcEndpoint(), p.createWebRtcEndpoint()];
    await a.processOffer(await peerOffer(1));
    await b.processOffer(await peerOffer(2));
    const offer = await peerOffer(3);

    await expect(c.processOffer(offer)).rejects.toMatchObject({ code: 'NO_PORT_AVAILABLE', message: expect.stringContaining('62390-62391') });

    expect(c.negotiationStarted).toBe(false);
    expect(c.reservedPorts).toBeUndefined();
    expect(p.ports.inUse).toBe(2);
    expect(muxesIn(62390, 62391).map((mux) => mux.users)).toEqual([1, 1]);
    const freed = a.reservedPorts![0];
    a.close();
    await c.processOffer(offer);
    expect(c.reservedPorts).toEqual([freed, freed]);
    expect(p.ports.inUse).toBe(2);
  });

  it('a port of the range that a mux of this process is on already (another pipeline\'s single port) is passed over', async () => {
    const single = h.pipeline({ packetCore: path, udpPort: 62385, portRange: [62385, 62389] }).createWebRtcEndpoint();
    await single.processOffer(await peerOffer(7));
    const p = h.pipeline({ ...config, portRange: [62385, 62386] });
    const ep = p.createWebRtcEndpoint();

    await ep.processOffer(await peerOffer(8));

    expect(single.sharedUdpPort).toBe(62385);
    expect(ep.reservedPorts).toEqual([62386, 62386]);
    expect(h.engine.sockets.find(HOST, 62385)!.users).toBe(1);
    expect(h.engine.sockets.find(HOST, 62386)!.users).toBe(1);
    expect(p.ports.inUse).toBe(1);
  });

  it('an endpoint closed while its socket is being bound, or whose offer the transport refuses, keeps no port', async () => {
    const p = h.pipeline(config);
    const closed = p.createWebRtcEndpoint();
    const answering = closed.processOffer(await peerOffer(4));
    // The port is reserved and its socket on the way.
    expect(p.ports.inUse).toBe(1);
    closed.close();
    await expect(answering).rejects.toMatchObject({ code: 'OBJECT_CLOSED' });
    expect(closed.reservedPorts).toBeUndefined();
    expect(p.ports.inUse).toBe(0);
    expect(muxesIn(62350, 62379)).toEqual([]);

    const refused = p.createWebRtcEndpoint();
    // The endpoint's own checks pass it (it has a ufrag); the transport's reading of it does not (no ice-pwd).
    const withoutPassword = (await peerOffer(5)).replace(/^a=ice-pwd:.*\r\n/gm, '');
    await expect(refused.processOffer(withoutPassword)).rejects.toMatchObject({ code: 'INVALID_SDP' });
    expect(refused.negotiationStarted).toBe(false);
    expect(p.ports.inUse).toBe(0);
    expect(muxesIn(62350, 62379)).toEqual([]);
    // Still usable: the next offer is answered on a port of the range.
    await refused.processOffer(await peerOffer(6));
    expect(p.ports.inUse).toBe(1);
  });
});
