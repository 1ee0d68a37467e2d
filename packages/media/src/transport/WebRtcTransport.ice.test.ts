import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../net/UdpMux.js';
import type { PacketCorePath } from '../native/PacketCore.js';
import { packetPathsUnderTest } from '../native/testPaths.js';
import { DtlsCertificate } from './DtlsSession.js';
import { BINDING_REQUEST, StunAttr, writeStun } from './stun.js';
import { createPublisher, createSubscriber, publish, statsOf, subscribe, total, until, type Peer } from './testPeers.js';
import { WebRtcTransport, type WebRtcTransportOptions } from './WebRtcTransport.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

for (const path of packetPathsUnderTest()) describe(`on the ${path} packet path`, () => suite(path));

function suite(path: PacketCorePath): void {
  let mux: UdpMux;
  let certificate: DtlsCertificate;
  const cleanups: Array<() => void> = [];

  beforeAll(async () => {
    mux = await engine.sockets.acquire('127.0.0.1', path === 'native' ? [65450, 65469] : [65100, 65131], 'test', path);
    certificate = await DtlsCertificate.generate();
  });
  afterAll(() => mux.release());
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  function transport(options: Partial<WebRtcTransportOptions> = {}): WebRtcTransport {
    const t = new WebRtcTransport({ mux, certificate, ...options });
    cleanups.push(() => t.close());
    return t;
  }

  /** A publisher on a sending transport and a subscriber receiving its video on a receiving transport. */
  async function call(recvOptions: Partial<WebRtcTransportOptions> = {}, mungeAnswer?: (sdp: string) => string): Promise<{ send: WebRtcTransport; recv: WebRtcTransport; sub: Peer }> {
    const send = transport();
    const recv = transport(recvOptions);
    const pub = createPublisher(1);
    cleanups.push(() => pub.stop());
    await publish(pub.pc, send);
    const sub = createSubscriber();
    cleanups.push(() => sub.close());
    recv.consume([...send.producers.values()].find((p) => p.kind === 'video')!);
    await subscribe(sub, recv, mungeAnswer);
    return { send, recv, sub };
  }

  async function frames(sub: Peer): Promise<number> {
    return total(await statsOf(sub), 'inbound-rtp', 'framesDecoded', 'video');
  }

  function socket(): Promise<Socket> {
    const s = createSocket('udp4');
    cleanups.push(() => s.close());
    return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
  }

  /** A connectivity check as a controlling agent sends it. */
  function check(transport: WebRtcTransport, remoteUfrag: string, password: string, nominate: boolean): Buffer {
    const attributes: Array<[number, Buffer]> = [
      [StunAttr.USERNAME, Buffer.from(`${transport.ufrag}:${remoteUfrag}`)],
      [StunAttr.PRIORITY, Buffer.from([0x6e, 0x00, 0x1e, 0xff])],
      [StunAttr.ICE_CONTROLLING, randomBytes(8)],
    ];
    if (nominate) attributes.push([StunAttr.USE_CANDIDATE, Buffer.alloc(0)]);
    return writeStun(BINDING_REQUEST, randomBytes(12), attributes, password);
  }

  function remoteUfrag(pc: Peer): string {
    return /a=ice-ufrag:(\S+)/.exec(pc.localDescription!.sdp)![1]!;
  }

  describe('WebRtcTransport ICE and DTLS', () => {
    it('hostile datagrams on the port (random, truncated, forged STUN, DTLS and SRTP junk from a checked address) are dropped and counted while media goes on', async () => {
      const { recv, sub } = await call();
      await until(() => frames(sub), (n) => n > 10);
      const attacker = await socket();
      const send = (data: Buffer): Promise<void> => new Promise((resolve) => attacker.send(data, mux.port, '127.0.0.1', () => resolve()));
      const before = mux.getStats();
      // Random datagrams of every first byte.
      for (let i = 0; i < 300; i++) await send(randomBytes(1 + Math.floor(Math.random() * 1200)));
      // Truncated and forged STUN: a good check cut short, one with a wrong password, one with a broken FINGERPRINT.
      const good = check(recv, remoteUfrag(sub), recv.pwd, true);
      await send(good.subarray(0, 30));
      await send(check(recv, remoteUfrag(sub), 'not-the-password-at-all', true));
      const badFingerprint = Buffer.from(good);
      badFingerprint[badFingerprint.length - 1]! ^= 0xff;
      await send(badFingerprint);
      expect(recv.getStats().pairSwitches).toBe(0);
      // A checked address (as if it knew the password) but not nominated: then junk from it.
      await send(check(recv, remoteUfrag(sub), recv.pwd, false));
      const junk: Buffer[] = [];
      for (let i = 0; i < 50; i++) {
        const dtls = randomBytes(60);
        dtls[0] = 20 + (i % 4); // change_cipher_spec, alert, handshake, application_data
        dtls.writeUInt16BE(0xfefd, 1);
        dtls.writeUInt16BE(i % 2, 3);
        junk.push(dtls, Buffer.from([22, 0xfe]));
        const rtp = randomBytes(100);
        rtp[0] = 0x80;
        rtp[1] = i % 2 === 0 ? 96 : 200;
        junk.push(rtp, rtp.subarray(0, 5));
      }
      for (const d of junk) await send(d);
      const framesBefore = await frames(sub);
      const after = await until(() => frames(sub), (n) => n > framesBefore + 20);
      expect(after).toBeGreaterThan(framesBefore + 20);
      expect(recv.iceState).toBe('connected');
      expect(recv.dtlsState).toBe('connected');
      expect(recv.getStats().pairSwitches).toBe(0);
      const stats = recv.getStats();
      expect(stats.droppedStun).toBeGreaterThanOrEqual(1);
      expect(stats.droppedSrtp).toBeGreaterThan(0);
      expect(stats.droppedDtls).toBeGreaterThan(0);
      const muxStats = mux.getStats();
      expect(muxStats.droppedUnknown + muxStats.droppedMalformed).toBeGreaterThan(before.droppedUnknown + before.droppedMalformed + 200);
      expect(muxStats.droppedUnauthenticated).toBeGreaterThan(before.droppedUnauthenticated);
    });

    it('a nominated check from a new address moves the media there (a pair switch by the peer is followed)', async () => {
      // A peer that moved its pair sends nothing more from the old address: once the check
      // from the new one is sent, what the subscriber still sends from the old one is
      // dropped (else its next consent check and RTCP from there, checked more recently
      // than the new address, rightly bring the media back: WebRtcTransport.follow.test.ts).
      let moved: number | undefined = undefined;
      const { recv, sub } = await call({ testHooks: { dropIncoming: (_d, from) => from[1] === moved } });
      await until(() => frames(sub), (n) => n > 5);
      const elsewhere = await socket();
      let srtp = 0;
      elsewhere.on('message', (data) => {
        if (data[0]! >= 128 && data[0]! <= 191) srtp++;
      });
      const switched = recv.waitFor('tuplechange', 5000);
      moved = recv.selectedTuple![1];
      elsewhere.send(check(recv, remoteUfrag(sub), recv.pwd, true), mux.port, '127.0.0.1');
      const [tuple] = await switched;
      expect(tuple[1]).toBe(elsewhere.address().port);
      await until(() => srtp, (n) => n > 10);
      expect(srtp).toBeGreaterThan(10);
      expect(recv.getStats().pairSwitches).toBe(1);
    });

    it('silence ends consent: no valid check for consentTimeoutMs makes the ICE state failed and stops sending; the next check of the peer brings the media back', async () => {
      let silent = false;
      const { recv, sub } = await call({ consentTimeoutMs: 6000, testHooks: { dropIncoming: (d) => silent && d[0]! < 4 } });
      await until(() => frames(sub), (n) => n > 5);
      silent = true;
      const [state] = await recv.waitFor('icestatechange', 10_000);
      expect(state).toBe('failed');
      expect(recv.selectedTuple).toBeUndefined();
      const sent = recv.getStats().rtpOut;
      await new Promise((r) => setTimeout(r, 300));
      expect(recv.getStats().rtpOut).toBe(sent);

      const back = recv.waitFor('icestatechange', 10_000);
      silent = false;
      expect((await back)[0]).toBe('connected');
      const atReturn = await frames(sub);
      expect(await until(() => frames(sub), (n) => n > atReturn + 5)).toBeGreaterThan(atReturn + 5);
    });

    it('a client that answers a=setup:passive makes the transport the DTLS client, and media flows', async () => {
      const { recv, sub } = await call({}, (sdp) => sdp.replace(/a=setup:active/g, 'a=setup:passive'));
      const n = await until(() => frames(sub), (x) => x > 5);
      expect(recv.dtlsRole).toBe('client');
      expect(n).toBeGreaterThan(5);
    });
  });
}
