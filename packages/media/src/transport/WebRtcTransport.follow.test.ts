import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UdpMux } from '../net/UdpMux.js';
import type { PacketCorePath } from '../native/PacketCore.js';
import { packetPathsUnderTest } from '../native/testPaths.js';
import { DtlsCertificate } from './DtlsSession.js';
import { BINDING_REQUEST, StunAttr, writeStun } from './stun.js';
import { LitePeer } from './testLitePeer.js';
import { until } from './testPeers.js';
import { CLIENT_OFFER } from './testSdp.js';
import { FOLLOW_QUIET_MS, WebRtcTransport } from './WebRtcTransport.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

// This file's UDP ports: 63100-63104 (TypeScript path), 63105-63109 (native).
for (const path of packetPathsUnderTest()) describe(`a peer that moves its pair without nominating it, on the ${path} packet path`, () => suite(path));

function rtp(seq: number, keyframe: boolean): Buffer {
  const b = Buffer.alloc(12 + 200, seq & 0xff);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(seq * 3000, 4);
  b.writeUInt32BE(1111, 8);
  b[12] = 0x10;
  b[13] = keyframe ? 0x00 : 0x01;
  return b;
}

function suite(path: PacketCorePath): void {
  let mux: UdpMux;
  let certificate: DtlsCertificate;
  const cleanups: Array<() => void> = [];
  beforeAll(async () => {
    mux = await engine.sockets.acquire('127.0.0.1', path === 'native' ? [63105, 63109] : [63100, 63104], 'test', path);
    certificate = await DtlsCertificate.generate();
  });
  afterAll(() => mux.release());
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  /** A publisher on a sending transport, a subscriber of its video on a receiving transport, both connected (LitePeers). */
  async function room(): Promise<{ send: WebRtcTransport; recv: WebRtcTransport; pub: LitePeer; sub: LitePeer; got: Buffer[] }> {
    const send = new WebRtcTransport({ mux, certificate, rtcpIntervalMs: 200 });
    const recv = new WebRtcTransport({ mux, certificate, rtcpIntervalMs: 200 });
    cleanups.push(() => send.close(), () => recv.close());
    const got: Buffer[] = [];
    const pub = await LitePeer.create(certificate, mux.port);
    const sub = await LitePeer.create(certificate, mux.port, (p) => got.push(Buffer.from(p)));
    cleanups.push(() => pub.close(), () => sub.close());
    send.processOffer(pub.offer(CLIENT_OFFER));
    recv.consume([...send.producers.values()].find((p) => p.kind === 'video')!);
    recv.processAnswer(sub.answer(recv.createOffer()));
    const fingerprint = certificate.fingerprint;
    await Promise.all([pub.connect({ ufrag: send.ufrag, pwd: send.pwd, fingerprint }), sub.connect({ ufrag: recv.ufrag, pwd: recv.pwd, fingerprint })]);
    await until(() => send.dtlsState === 'connected' && recv.dtlsState === 'connected', (ok) => ok, 10_000);
    return { send, recv, pub, sub, got };
  }

  /** A socket of the peer's on another address: a non-nominating check from it, as a browser's consent check on a pair it switched to. */
  async function elsewhere(transport: WebRtcTransport, peer: LitePeer): Promise<{ socket: Socket; srtp: () => number; check: () => void }> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => socket.close());
    let srtp = 0;
    socket.on('message', (data) => {
      if (data[0]! >= 128 && data[0]! <= 191) srtp++;
    });
    const check = (): void => {
      const attributes: Array<[number, Buffer]> = [
        [StunAttr.USERNAME, Buffer.from(`${transport.ufrag}:${peer.ufrag}`)],
        [StunAttr.PRIORITY, Buffer.from([0x6e, 0x00, 0x1e, 0xff])],
        [StunAttr.ICE_CONTROLLING, randomBytes(8)],
      ];
      socket.send(writeStun(BINDING_REQUEST, randomBytes(12), attributes, transport.pwd), mux.port, '127.0.0.1');
    };
    return { socket, srtp: () => srtp, check };
  }

  // The TypeScript path only: the native core authenticates media after the hand-over, so
  // there a move is followed by the checks (the next test).
  if (path === 'typescript') {
    it('media from a checked address the peer moved to is followed: the sending transport answers there, and a late packet from the old address does not move it back', async () => {
      const { send, pub, got } = await room();
      let seq = 1;
      for (let i = 0; i < 5; i++) pub.sendRtp(rtp(seq++, i === 0));
      await until(() => got.length, (n) => n >= 5, 10_000);
      const moved = await elsewhere(send, pub);
      const switched = send.waitFor('tuplechange', 10_000);

      // Checked from the new address, then media from there (the old socket stays open and silent).
      moved.check();
      await until(() => send.getStats().bindingRequests, (n) => n >= 2, 5_000);
      const protect = (packet: Buffer): Buffer => {
        const buf = Buffer.allocUnsafe(packet.length + 16);
        packet.copy(buf);
        return buf.subarray(0, pub.srtp!.outbound.protectRtp(buf, packet.length));
      };
      const timer = setInterval(() => moved.socket.send(protect(rtp(seq++, false)), mux.port, '127.0.0.1'), 20);
      cleanups.push(() => clearInterval(timer));
      const [tuple] = await switched;

      expect(tuple[1]).toBe(moved.socket.address().port);
      const before = got.length;
      await until(() => got.length, (n) => n >= before + 10, 10_000);
      expect(got.length).toBeGreaterThanOrEqual(before + 10);
      // The transport's reports go to the new address.
      expect(await until(() => moved.srtp(), (n) => n >= 2, 10_000)).toBeGreaterThanOrEqual(2);
      // A packet of the old pair still in flight.
      pub.sendRtp(rtp(seq++, false));
      await new Promise((r) => setTimeout(r, 300));
      expect(send.selectedTuple?.[1]).toBe(moved.socket.address().port);
      expect(send.getStats().pairSwitches).toBe(1);
    }, 30_000);
  }

  it('a receiving peer whose checks move to another address while the selected one goes quiet is followed (not while the selected one is still checked)', async () => {
    const { recv, sub, pub, send } = await room();
    const moved = await elsewhere(recv, sub);
    let seq = 1;
    const media = setInterval(() => pub.sendRtp(rtp(seq++, seq % 30 === 2)), 20);
    const oldChecks = setInterval(() => sub.check(), 500);
    const newChecks = setInterval(() => moved.check(), 500);
    cleanups.push(() => clearInterval(media), () => clearInterval(oldChecks), () => clearInterval(newChecks));
    await until(() => send.getStats().rtpIn, (n) => n > 10, 10_000);

    // Both addresses checked: the peer checks its other pairs too; the media stays.
    await new Promise((r) => setTimeout(r, FOLLOW_QUIET_MS + 1000));
    expect(recv.getStats().pairSwitches).toBe(0);
    expect(moved.srtp()).toBe(0);

    // The old address goes quiet: the media moves to the one still checked.
    clearInterval(oldChecks);
    await recv.waitFor('tuplechange', FOLLOW_QUIET_MS + 10_000);
    expect(recv.selectedTuple?.[1]).toBe(moved.socket.address().port);
    expect(await until(() => moved.srtp(), (n) => n >= 10, 10_000)).toBeGreaterThanOrEqual(10);
    expect(recv.iceState).toBe('connected');
  }, 40_000);
}
