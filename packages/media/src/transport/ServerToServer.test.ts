import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../net/UdpMux.js';
import { DtlsCertificate } from './DtlsSession.js';
import { BINDING_SUCCESS, StunAttr, writeStun } from './stun.js';
import { createPublisher, createSubscriber, publish, statsOf, subscribe, total, until, type Peer } from './testPeers.js';
import { WebRtcTransport, type WebRtcTransportOptions } from './WebRtcTransport.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

/*
 * Two server transports talking to each other, as two Kurento endpoints of the engine
 * (or two media servers) do: a receiving transport on one port offers its consumers to
 * a sending transport on another port. Neither side is a browser: one of them must run
 * the connectivity checks (IceChecks).
 */

let near: UdpMux;
let far: UdpMux;
let certificate: DtlsCertificate;
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  near = await engine.sockets.acquire('127.0.0.1', [65200, 65231]);
  far = await engine.sockets.acquire('127.0.0.1', [65240, 65271]);
  certificate = await DtlsCertificate.generate();
});
afterAll(() => {
  near.release();
  far.release();
});
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function transport(mux: UdpMux, options: Partial<WebRtcTransportOptions> = {}): WebRtcTransport {
  const t = new WebRtcTransport({ mux, certificate, ...options });
  cleanups.push(() => t.close());
  return t;
}

/**
 * publisher → `ingest` (near port) → its video consumed on `relay` (near port) → offered
 * to `egress` (far port) → consumed on `out` (far port) → a libwebrtc subscriber.
 */
async function chain(relayOptions: Partial<WebRtcTransportOptions> = {}, egressOptions: Partial<WebRtcTransportOptions> = {}) {
  const ingest = transport(near);
  const pub = createPublisher(1);
  cleanups.push(() => pub.stop());
  await publish(pub.pc, ingest);
  const video = [...ingest.producers.values()].find((p) => p.kind === 'video')!;
  const relay = transport(near, relayOptions);
  const relayed = relay.consume(video);
  const egress = transport(far, egressOptions);
  const offer = relay.createOffer();
  relay.processAnswer(egress.processOffer(offer));
  const arrived = [...egress.producers.values()][0]!;
  const out = transport(far);
  const sub = createSubscriber();
  cleanups.push(() => sub.close());
  out.consume(arrived);
  await subscribe(sub, out);
  return { pub, ingest, video, relay, relayed, egress, arrived, offer, sub };
}

async function frames(sub: Peer): Promise<number> {
  return total(await statsOf(sub), 'inbound-rtp', 'framesDecoded', 'video');
}

describe('two server transports', () => {
  it('a receiving transport offering to a lite sending transport on another port checks it, nominates the pair, and the video reaches a subscriber behind the second', async () => {
    const { relay, egress, arrived, offer, sub } = await chain();
    const decoded = await until(() => frames(sub), (n) => n > 10);
    expect(decoded, JSON.stringify({ relay: relay.getStats(), egress: egress.getStats() })).toBeGreaterThan(10);
    // Both lite: the offerer's peer announced a=ice-lite, so the offerer checked it (and was checked).
    expect(offer).toContain('a=ice-lite');
    expect(relay.getStats().iceChecksSent).toBeGreaterThan(0);
    expect(relay.iceState).toBe('connected');
    expect(egress.iceState).toBe('connected');
    expect(relay.dtlsRole).toBe('client');
    expect(egress.dtlsRole).toBe('server');
    expect(relay.selectedTuple?.[1]).toBe(far.port);
    expect(egress.selectedTuple?.[1]).toBe(near.port);
    expect(arrived.kind).toBe('video');
  });

  it('with iceLite false the offer leaves out a=ice-lite and the offerer runs the checks as the controlling agent', async () => {
    const { relay, egress, offer, sub } = await chain({ iceLite: false });
    await until(() => frames(sub), (n) => n > 10);
    expect(offer).not.toContain('a=ice-lite');
    expect(relay.getStats().iceChecksSent).toBeGreaterThan(0);
    // The answerer is lite and was checked, so it did not check back.
    expect(egress.getStats().iceChecksSent).toBe(0);
    expect(egress.getStats().bindingRequests).toBeGreaterThan(0);
    expect(await frames(sub)).toBeGreaterThan(10);
  });

  it('NACK, PLI, SR, RR and REMB cross between the two transports through their consumers and producers', async () => {
    let outgoing = 0;
    const dropped = new Set<number>();
    let relayedSsrc = -1;
    const { video, relayed, arrived, sub } = await chain(
      {
        testHooks: {
          // Every 25th relayed video packet is lost the first time: the far side NACKs it.
          dropOutgoingRtp: (ssrc, seq) => {
            if (ssrc !== relayedSsrc || ++outgoing % 25 !== 0 || dropped.has(seq)) return false;
            dropped.add(seq);
            return true;
          },
        },
      },
      { maxIncomingBitrate: 400_000 },
    );
    relayedSsrc = relayed.ssrc;
    await until(
      () => [relayed.stats.retransmitted, arrived.stats.nacksSent, arrived.stats.senderReports, relayed.stats.receiverReports, relayed.stats.plisReceived + relayed.stats.firsReceived],
      (v) => v.every((n) => n > 0) && relayed.estimatedBitrate !== undefined,
    );
    // NACK: the far producer saw the gap and asked; the relaying consumer resent from the publisher's history.
    expect(arrived.stats.nacksSent).toBeGreaterThan(0);
    expect(relayed.stats.nacksReceived).toBeGreaterThan(0);
    expect(relayed.stats.retransmitted).toBeGreaterThan(0);
    expect(arrived.stats.duplicates + arrived.stats.lost).toBeLessThan(arrived.stats.packets);
    // PLI: the subscriber's consumer on the far side asked its producer, which asked the relay, which asked the publisher.
    expect(relayed.stats.plisReceived + relayed.stats.firsReceived).toBeGreaterThan(0);
    expect(video.stats.keyframeRequestsSent).toBeGreaterThan(0);
    // SR from the relay's consumer to the far producer; RR back, with a round trip.
    expect(relayed.stats.senderReportsSent).toBeGreaterThan(0);
    expect(arrived.stats.senderReports).toBeGreaterThan(0);
    expect(relayed.stats.receiverReports).toBeGreaterThan(0);
    await until(() => relayed.stats.roundTripTime, (rtt) => rtt !== undefined);
    expect(relayed.stats.roundTripTime).toBeGreaterThanOrEqual(0);
    // REMB: the far side's ceiling reached the relaying consumer, and through the publisher's producer the publisher.
    expect(relayed.estimatedBitrate).toBeLessThanOrEqual(400_000);
    expect(video.minConsumerBitrate()).toBeLessThanOrEqual(400_000);
    expect(await until(() => frames(sub), (n) => n > 10)).toBeGreaterThan(10);
  });

  it('forged and stray answers at a checking transport are refused and counted; bad candidates are refused; media goes on', async () => {
    const { relay, sub } = await chain();
    await until(() => frames(sub), (n) => n > 10);
    const attacker = await socket();
    const send = (data: Buffer, port: number): Promise<void> => new Promise((resolve) => attacker.send(data, port, '127.0.0.1', () => resolve()));
    const before = near.getStats();
    // Binding answers nobody asked for (some signed with a guess, some not), junk and truncated STUN.
    for (let i = 0; i < 100; i++) {
      const attributes: Array<[number, Buffer]> = [[StunAttr.XOR_MAPPED_ADDRESS, randomBytes(8)]];
      await send(writeStun(BINDING_SUCCESS, randomBytes(12), attributes, i % 2 === 0 ? 'guessed-password' : undefined), near.port);
      await send(randomBytes(1 + (i % 60)), near.port);
    }
    // Nobody's 5-tuple, no transaction of ours: the mux drops every one before a transport sees it.
    const dropped = (st: typeof before): number => st.droppedUnknown + st.droppedMalformed + st.droppedUnauthenticated;
    const after = await until(() => near.getStats(), (st) => dropped(st) - dropped(before) >= 200, 5000);
    expect(dropped(after) - dropped(before)).toBeGreaterThanOrEqual(200);
    expect(relay.getStats().droppedStun).toBe(0);
    expect(relay.iceState).toBe('connected');
    expect(relay.selectedTuple?.[1]).toBe(far.port);
    expect(() => relay.addRemoteCandidate('candidate:1 1 tcp 1 127.0.0.1 9 typ host')).toThrow(expect.objectContaining({ code: 'INVALID_CANDIDATE' }));
    expect(() => relay.addRemoteCandidate('not a candidate')).toThrow(expect.objectContaining({ code: 'INVALID_CANDIDATE' }));
    const at = await frames(sub);
    expect(await until(() => frames(sub), (n) => n > at + 10)).toBeGreaterThan(at + 10);
  });
});

function socket(): Promise<Socket> {
  const s = createSocket('udp4');
  cleanups.push(() => s.close());
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}
