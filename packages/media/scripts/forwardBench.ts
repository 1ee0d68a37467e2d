/**
 * Forwarding micro-bench: 1 publisher -> N subscribers (default 8) through
 * WebRtcEndpoints, the media engine in a child process, werift peers in this one.
 * Reports the child's CPU time per forwarded packet (user + system, over the
 * measurement window, divided by the packets the sinks sent), for ROUNDS runs of a
 * fresh child each (this machine's speed drifts between runs). Until 2026-12-08 it
 * alternated the werift packet path (fastPath off) with Roundtable's; the endpoints now
 * have only the own transport (docs/performance.md).
 *
 * Run: npx tsx packages/media/scripts/forwardBench.ts
 * Env: ROUNDS (default 2), SECONDS per run (8), SUBSCRIBERS (8), VIDEO_PPS (90),
 * VIDEO_BYTES (1100), PROFILE_DIR (run the child with --cpu-prof into PROFILE_DIR).
 * Ports: 57500-57999 (engine) on 127.0.0.1; STUN on an ephemeral loopback port.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MediaStreamTrack, RtpHeader, RtpPacket, type RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { Engine } from '../src/core/Engine.js';
import type { MediaPipeline } from '../src/core/MediaPipeline.js';
import type { WebRtcEndpoint } from '../src/webrtc/WebRtcEndpoint.js';
import { StunServer } from '../src/net/StunServer.js';
import { createWeriftPeer, waitForConnected } from '../src/testing/peers.js';

/** The script's media engine. */
const engine = new Engine();

type ToChild =
  | { type: 'setup'; subscribers: number }
  | { type: 'offer'; id: number; sdp: string }
  | { type: 'candidate'; id: number; candidate: string; sdpMid: string | null; sdpMLineIndex: number | null }
  | { type: 'start' }
  | { type: 'stop' };
type FromChild =
  | { type: 'ready' }
  | { type: 'answer'; id: number; sdp: string }
  | { type: 'candidate'; id: number; candidate: string; sdpMid: string | null; sdpMLineIndex: number | null }
  | { type: 'result'; cpuUs: number; forwarded: number; received: number; elapsedMs: number };

const SECONDS = Number(process.env.SECONDS ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 8);
const VIDEO_PPS = Number(process.env.VIDEO_PPS ?? 90);
const VIDEO_BYTES = Number(process.env.VIDEO_BYTES ?? 1100);

async function child(): Promise<void> {
  const send = (m: FromChild): void => void process.send!(m);
  let pipeline: MediaPipeline | undefined;
  const endpoints = new Map<number, WebRtcEndpoint>();
  let startCpu: NodeJS.CpuUsage | undefined;
  let startAt = 0;
  let startForwarded = 0;
  let startReceived = 0;
  const totals = (): { forwarded: number; received: number } => {
    let forwarded = 0;
    let received = 0;
    for (const ep of endpoints.values()) {
      const s = ep.getStats();
      forwarded += s.audio.packetsSent + s.video.packetsSent;
      received += s.audio.packetsReceived + s.video.packetsReceived;
    }
    return { forwarded, received };
  };
  process.on('message', (m: ToChild) => {
    void (async () => {
      switch (m.type) {
        case 'setup': {
          pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: [57500, 57999] });
          const source = pipeline.createWebRtcEndpoint({ direction: 'recvonly' });
          endpoints.set(0, source);
          for (let i = 1; i <= m.subscribers; i++) {
            const sink = pipeline.createWebRtcEndpoint({ direction: 'sendonly' });
            endpoints.set(i, sink);
            source.connect(sink);
          }
          for (const [id, ep] of endpoints) {
            ep.on('iceCandidate', (c) => send({ type: 'candidate', id, candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }));
          }
          send({ type: 'ready' });
          break;
        }
        case 'offer': {
          const ep = endpoints.get(m.id)!;
          const sdp = await ep.processOffer(m.sdp);
          send({ type: 'answer', id: m.id, sdp });
          await ep.gatherCandidates();
          break;
        }
        case 'candidate':
          await endpoints.get(m.id)!.addIceCandidate(m).catch(() => undefined);
          break;
        case 'start': {
          startCpu = process.cpuUsage();
          startAt = performance.now();
          ({ forwarded: startForwarded, received: startReceived } = totals());
          break;
        }
        case 'stop': {
          const cpu = process.cpuUsage(startCpu);
          const { forwarded, received } = totals();
          send({
            type: 'result',
            cpuUs: cpu.user + cpu.system,
            forwarded: forwarded - startForwarded,
            received: received - startReceived,
            elapsedMs: performance.now() - startAt,
          });
          pipeline?.close();
          setTimeout(() => process.exit(0), 200);
          break;
        }
      }
    })();
  });
}

async function run(stunUrl: string): Promise<FromChild & { type: 'result' }> {
  const execArgv = ['--import', 'tsx'];
  // One profile per thread (tsx's loader runs in a worker): the main thread's is the largest.
  if (process.env.PROFILE_DIR) execArgv.push('--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`);
  const proc: ChildProcess = fork(fileURLToPath(import.meta.url), ['child'], { execArgv });
  const toChild = (m: ToChild): void => void proc.send(m);
  const waiters = new Map<string, (m: FromChild) => void>();
  const peers = new Map<number, WeriftPeerConnection>();
  proc.on('message', (m: FromChild) => {
    if (m.type === 'candidate') {
      void peers.get(m.id)?.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdpMid ?? undefined, sdpMLineIndex: m.sdpMLineIndex ?? undefined });
      return;
    }
    const key = m.type === 'answer' ? `answer${m.id}` : m.type;
    waiters.get(key)?.(m);
  });
  const wait = (key: string): Promise<FromChild> => new Promise((r) => waiters.set(key, r));

  const ready = wait('ready');
  toChild({ type: 'setup', subscribers: SUBSCRIBERS });
  await ready;
  const video = new MediaStreamTrack({ kind: 'video' });
  const audio = new MediaStreamTrack({ kind: 'audio' });
  for (let id = 0; id <= SUBSCRIBERS; id++) {
    const pc = createWeriftPeer(stunUrl);
    peers.set(id, pc);
    if (id === 0) {
      pc.addTransceiver(video, { direction: 'sendonly' });
      pc.addTransceiver(audio, { direction: 'sendonly' });
    } else {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
    }
    pc.onIceCandidate.subscribe((c) => {
      if (c) toChild({ type: 'candidate', id, candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null });
    });
    await pc.setLocalDescription(await pc.createOffer());
    const answer = wait(`answer${id}`);
    toChild({ type: 'offer', id, sdp: pc.localDescription!.sdp });
    const { sdp } = (await answer) as { sdp: string };
    await pc.setRemoteDescription({ type: 'answer', sdp });
  }
  await Promise.all([...peers.values()].map((pc) => waitForConnected(pc)));

  // VP8-shaped video (keyframe every 60 packets) and 20 ms Opus-sized audio.
  let vseq = 1000;
  let aseq = 5000;
  let count = 0;
  const videoPayload = Buffer.alloc(VIDEO_BYTES, 0x55);
  const audioPayload = Buffer.alloc(100, 0x33);
  const videoTimer = setInterval(() => {
    for (let i = 0; i < VIDEO_PPS / 50; i++) {
      videoPayload[0] = 0x10;
      videoPayload[1] = count++ % 60 === 0 ? 0x00 : 0x01;
      video.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: vseq++ & 0xffff, timestamp: vseq * 1000, payloadType: 96, marker: true }), videoPayload));
    }
  }, 20);
  const audioTimer = setInterval(() => {
    audio.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: aseq++ & 0xffff, timestamp: aseq * 960, payloadType: 111 }), audioPayload));
  }, 20);
  await new Promise((r) => setTimeout(r, 2000)); // warm up: keyframes, REMB, JIT
  const result = wait('result');
  toChild({ type: 'start' });
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  toChild({ type: 'stop' });
  const r = (await result) as FromChild & { type: 'result' };
  clearInterval(videoTimer);
  clearInterval(audioTimer);
  for (const pc of peers.values()) await pc.close();
  await new Promise((res) => proc.once('exit', res));
  return r;
}

async function main(): Promise<void> {
  const stun = new StunServer();
  const { url } = await stun.listen();
  const results: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const r = await run(url);
    const perPacket = r.cpuUs / r.forwarded;
    results.push(perPacket);
    console.log(
      `round ${round + 1}: ${perPacket.toFixed(1)} µs CPU per forwarded packet ` +
        `(${r.forwarded} forwarded, ${r.received} received, CPU ${((r.cpuUs / 1000 / r.elapsedMs) * 100).toFixed(1)} % over ${(r.elapsedMs / 1000).toFixed(1)} s)`,
    );
  }
  const median = [...results].sort((a, b) => a - b)[Math.floor(results.length / 2)]!;
  console.log(`median: ${median.toFixed(1)} µs per forwarded packet`);
  stun.close();
}

if (process.argv[2] === 'child') void child();
else void main();
