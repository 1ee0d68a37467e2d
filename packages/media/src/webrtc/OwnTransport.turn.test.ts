import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coturn, skipTurnTests } from '../../../../test/e2e/coturn.js';
import { FakePublisher } from '../testing/FakePublisher.js';
import { collect, until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import type { IceCandidateInit, WebRtcEndpoint } from './WebRtcEndpoint.js';

/*
 * A Kurento WebRtcEndpoint with a TURN server on the engine's own transport: a relayed
 * candidate from an allocation of the endpoint's own, media through coturn when the peer
 * is given nothing else, on the default packet core (the relayed transport does its
 * packets in JavaScript).
 */

const h = useMediaHarness([62450, 62499]);
/** coturn relays from these (TurnClient.test.ts and the e2e files use others). */
const RELAY_PORTS = [53500, 53599] as const;

describe.skipIf(skipTurnTests('OwnTransport TURN'))('WebRtcEndpoint on the own transport with a TURN server', () => {
  let coturn: Coturn;
  beforeAll(async () => {
    coturn = await Coturn.start({ relayPorts: RELAY_PORTS });
  });
  afterAll(async () => {
    await coturn?.close();
  });

  function iceServers(password?: string): Array<{ urls: string; username: string; credential: string }> {
    const username = `${Math.floor(Date.now() / 1000) + 3600}:roundtable`;
    return [{ urls: coturn.url('udp'), username, credential: password ?? createHmac('sha1', coturn.secret).update(username).digest('base64') }];
  }

  /** Negotiates a werift peer with `ep`, giving the peer only our candidates `pass` lets through. */
  async function negotiate(ep: WebRtcEndpoint, pass: (candidate: string) => boolean): Promise<{ candidates: IceCandidateInit[]; done: Promise<void>; pc: ReturnType<typeof h.peer>; pub: FakePublisher; video: ReturnType<typeof collect> }> {
    const pc = h.peer();
    const pub = new FakePublisher(5);
    pub.attach(pc, 'sendrecv');
    const video = collect(pc, 'video');
    const candidates: IceCandidateInit[] = [];
    const done = new Promise<void>((resolve) => ep.on('iceGatheringDone', () => resolve()));
    ep.on('iceCandidate', (c) => {
      candidates.push(c);
      if (pass(c.candidate)) void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined });
    });
    pc.onIceCandidate.subscribe((c) => {
      if (c) void ep.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }).catch(() => undefined);
    });
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await ep.processOffer(pc.localDescription!.sdp);
    // Our answer carries no candidates (Kurento's trickle model): the peer learns only what `pass` lets through.
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await ep.gatherCandidates();
    return { candidates, done, pc, pub, video };
  }

  it('announces a relayed candidate and carries the media through coturn when the peer has only that one', async () => {
    const p = h.pipeline({ iceServers: iceServers() });
    const ep = p.createWebRtcEndpoint();
    ep.connect(ep);
    const pairs: string[] = [];
    ep.on('candidatePairSelected', (pair) => pairs.push(pair.localCandidate));
    const { candidates, done, pc, pub, video } = await negotiate(ep, (c) => / typ relay /.test(c));
    await done;
    const relayed = candidates.find((c) => / typ relay /.test(c.candidate));
    expect(relayed?.candidate).toMatch(/^candidate:\S+ 1 udp 16777215 127\.0\.0\.1 (\d+) typ relay raddr 127\.0\.0\.1 rport \d+ generation 0 ufrag \S+$/);
    const relayPort = Number(/ 127\.0\.0\.1 (\d+) typ relay/.exec(relayed!.candidate)![1]);
    expect(relayPort).toBeGreaterThanOrEqual(RELAY_PORTS[0]);
    expect(relayPort).toBeLessThanOrEqual(RELAY_PORTS[1]);
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length >= 20, 15_000).catch((e) => {
      console.log(JSON.stringify(ep.getStats()), video.length, coturn.log.split('\n').slice(-20).join('\n'));
      throw e;
    });
    pub.stop();
    // The pair is the relayed candidate's: everything went through coturn.
    expect(pairs.at(-1)).toBe(relayed!.candidate);
    expect(video[0]!.payload[2]).toBe(5);
    expect(ep.getStats().video.packetsReceived).toBeGreaterThan(0);
    await coturn.waitForLog(/ALLOCATE processed, success/);
    // Released with the endpoint: the allocation is given back (a Refresh with lifetime 0), not left to expire.
    ep.close();
    await coturn.waitForLog(/REFRESH processed, success/);
  });

  it('without a relay (credentials refused) gathering still ends, and the host candidate carries the media', async () => {
    const p = h.pipeline({ iceServers: iceServers('not the password') });
    const ep = p.createWebRtcEndpoint();
    ep.connect(ep);
    const { candidates, done, pc, pub, video } = await negotiate(ep, () => true);
    await done;
    expect(candidates.map((c) => / typ (\w+)/.exec(c.candidate)![1])).toEqual(['host']);
    await waitForConnected(pc);
    pub.start();
    await until(() => video.length >= 10, 15_000);
    pub.stop();
  });
});
