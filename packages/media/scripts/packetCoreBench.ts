/**
 * Transport-level micro-benchmark of the two packet paths (media.packetCore): one
 * publisher -> N subscribers (default 8) through WebRtcTransports on the shared port,
 * the engine in a child process, browser-free peers (LitePeer: our STUN, DTLS client
 * and SRTP) in this one. Reports the child's CPU time (user + system, every thread:
 * the native core's receive thread included) per forwarded packet over the measurement
 * window, alternating the paths within one invocation (the machine's speed drifts).
 * A benchmark, not a test: it asserts nothing.
 *
 * Run: npx tsx packages/media/scripts/packetCoreBench.ts
 * Env: ROUNDS (default 2), SECONDS per run (6), SUBSCRIBERS (8), VIDEO_PPS (300), VIDEO_BYTES (1000);
 * SINK=1 also gives the producer a JavaScript sink (a TransportBridge with an element
 * connected, as a recorder or a room's mix has): on the native path the core then
 * hands its packets up.
 * Ports: 65480-65499 on 127.0.0.1.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/core/Engine.js';
import type { PacketCorePath } from '../src/native/PacketCore.js';
import { TransportBridge } from '../src/room/TransportBridge.js';
import { DtlsCertificate } from '../src/transport/DtlsSession.js';
import { LitePeer } from '../src/transport/testLitePeer.js';
import { CLIENT_OFFER } from '../src/transport/testSdp.js';
import { WebRtcTransport } from '../src/transport/WebRtcTransport.js';

/** The script's media engine. */
const engine = new Engine();

interface Credentials {
  ufrag: string;
  pwd: string;
  fingerprint: string;
}
type ToChild = { type: 'setup'; path: PacketCorePath; publisher: { offer: string }; subscribers: number } | { type: 'answers'; sdps: string[] } | { type: 'start' } | { type: 'stop' };
type FromChild =
  | { type: 'ready'; port: number; send: Credentials & { answer: string }; recv: Array<Credentials & { offer: string }> }
  | { type: 'connected' }
  | { type: 'result'; cpuUs: number; forwarded: number; elapsedMs: number; path: PacketCorePath };

const SECONDS = Number(process.env['SECONDS'] ?? 6);
const ROUNDS = Number(process.env['ROUNDS'] ?? 2);
const SUBSCRIBERS = Number(process.env['SUBSCRIBERS'] ?? 8);
const VIDEO_PPS = Number(process.env['VIDEO_PPS'] ?? 300);
const VIDEO_BYTES = Number(process.env['VIDEO_BYTES'] ?? 1000);
const SINK = process.env['SINK'] === '1';

async function child(): Promise<void> {
  const send = (m: FromChild): void => void process.send!(m);
  let transports: WebRtcTransport[] = [];
  let cpuAt = process.cpuUsage();
  let at = 0;
  let forwardedAt = 0;
  let path: PacketCorePath = 'typescript';
  const forwarded = (): number => transports.slice(1).reduce((sum, t) => sum + t.getStats().rtpOut, 0);
  process.on('message', async (m: ToChild) => {
    if (m.type === 'setup') {
      path = m.path;
      const mux = await engine.sockets.acquire('127.0.0.1', path === 'native' ? [65490, 65499] : [65480, 65489], 'bench', path);
      const certificate = await DtlsCertificate.generate();
      const sender = new WebRtcTransport({ mux, certificate });
      const answer = sender.processOffer(m.publisher.offer);
      const video = [...sender.producers.values()].find((p) => p.kind === 'video')!;
      const receivers = Array.from({ length: m.subscribers }, () => new WebRtcTransport({ mux, certificate }));
      for (const r of receivers) r.consume(video);
      if (SINK) {
        const pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'] });
        const bridge = new TransportBridge(pipeline);
        bridge.attach(video);
        bridge.connect(pipeline.createPassThrough(), 'video');
      }
      transports = [sender, ...receivers];
      let waiting = transports.length;
      for (const t of transports) {
        t.on('dtlsstatechange', (state) => {
          if (state === 'connected' && --waiting === 0) send({ type: 'connected' });
        });
      }
      const credentials = (t: WebRtcTransport): Credentials => ({ ufrag: t.ufrag, pwd: t.pwd, fingerprint: certificate.fingerprint });
      send({ type: 'ready', port: mux.port, send: { ...credentials(sender), answer }, recv: receivers.map((r) => ({ ...credentials(r), offer: r.createOffer() })) });
    } else if (m.type === 'answers') {
      m.sdps.forEach((sdp, i) => transports[i + 1]!.processAnswer(sdp));
    } else if (m.type === 'start') {
      cpuAt = process.cpuUsage();
      at = performance.now();
      forwardedAt = forwarded();
    } else if (m.type === 'stop') {
      const cpu = process.cpuUsage(cpuAt);
      send({ type: 'result', cpuUs: cpu.user + cpu.system, forwarded: forwarded() - forwardedAt, elapsedMs: performance.now() - at, path });
      for (const t of transports) t.close();
      setTimeout(() => process.exit(0), 100);
    }
  });
}

async function run(path: PacketCorePath, certificate: DtlsCertificate): Promise<FromChild & { type: 'result' }> {
  const engine = fork(fileURLToPath(import.meta.url), ['child'], { execArgv: ['--import', 'tsx'] });
  const next = <T extends FromChild['type']>(type: T): Promise<FromChild & { type: T }> =>
    new Promise((resolve) => {
      const on = (m: FromChild): void => {
        if (m.type !== type) return;
        engine.off('message', on);
        resolve(m as FromChild & { type: T });
      };
      engine.on('message', on);
    });
  const ready = next('ready');
  // The publisher's offer carries its credentials; the port is known once the engine has its socket.
  const pub = await LitePeer.create(certificate, 0);
  engine.send({ type: 'setup', path, publisher: { offer: pub.offer(CLIENT_OFFER) }, subscribers: SUBSCRIBERS } satisfies ToChild);
  const r = await ready;
  pub.serverPort = r.port;
  const subs = await Promise.all(r.recv.map(() => LitePeer.create(certificate, r.port)));
  engine.send({ type: 'answers', sdps: r.recv.map((t, i) => subs[i]!.answer(t.offer)) } satisfies ToChild);
  const connected = next('connected');
  await Promise.all([pub.connect(r.send), ...subs.map((s, i) => s.connect(r.recv[i]!))]);
  await connected;
  const consent = setInterval(() => [pub, ...subs].forEach((p) => p.check()), 2000);
  // Publish: a keyframe first, then delta frames, VIDEO_PPS packets a second.
  let seq = 0;
  const payload = Buffer.alloc(VIDEO_BYTES, 0xab);
  const packet = (keyframe: boolean): Buffer => {
    const b = Buffer.alloc(12 + payload.length);
    b[0] = 0x80;
    b[1] = 96;
    b.writeUInt16BE(seq++ & 0xffff, 2);
    b.writeUInt32BE((seq * 300) >>> 0, 4);
    b.writeUInt32BE(1111, 8);
    payload.copy(b, 12);
    b[12] = 0x10;
    b[13] = keyframe ? 0x00 : 0x01;
    return b;
  };
  const tick = 10;
  const perTick = Math.max(1, Math.round((VIDEO_PPS * tick) / 1000));
  pub.sendRtp(packet(true));
  const publishing = setInterval(() => {
    for (let i = 0; i < perTick; i++) pub.sendRtp(packet(false));
  }, tick);
  await new Promise((r) => setTimeout(r, 1000));
  engine.send({ type: 'start' } satisfies ToChild);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const result = next('result');
  engine.send({ type: 'stop' } satisfies ToChild);
  const out = await result;
  clearInterval(publishing);
  clearInterval(consent);
  for (const p of [pub, ...subs]) p.close();
  await new Promise((r) => engine.once('exit', r));
  return out;
}

async function main(): Promise<void> {
  const certificate = await DtlsCertificate.generate();
  console.log(`1 -> ${SUBSCRIBERS} video${SINK ? ' and a JavaScript sink' : ''}, ${VIDEO_PPS} pps x ${VIDEO_BYTES} B, ${SECONDS} s per run, ${ROUNDS} rounds, paths alternating`);
  const totals: Record<PacketCorePath, { cpuUs: number; forwarded: number }> = { typescript: { cpuUs: 0, forwarded: 0 }, native: { cpuUs: 0, forwarded: 0 } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const path of ['typescript', 'native'] as const) {
      const r = await run(path, certificate);
      totals[path].cpuUs += r.cpuUs;
      totals[path].forwarded += r.forwarded;
      const expected = Math.round((VIDEO_PPS * SUBSCRIBERS * r.elapsedMs) / 1000);
      console.log(`${path.padEnd(10)} forwarded ${r.forwarded} (${((100 * r.forwarded) / expected).toFixed(0)}% of ${expected}) cpu ${(r.cpuUs / 1000).toFixed(0)} ms -> ${(r.cpuUs / Math.max(1, r.forwarded)).toFixed(2)} µs per forwarded packet, ${((r.cpuUs / 1000 / r.elapsedMs) * 100).toFixed(0)}% of a core`);
    }
  }
  for (const path of ['typescript', 'native'] as const) {
    const t = totals[path];
    console.log(`${path.padEnd(10)} overall ${(t.cpuUs / Math.max(1, t.forwarded)).toFixed(2)} µs per forwarded packet`);
  }
}

if (process.argv[2] === 'child') void child();
else await main();
