/**
 * What a 4-party Composite costs in CPU: audio only, then audio + video grid.
 *
 * Four parties feed the Composite's ports directly (no WebRTC transport, so the figure
 * is the mix itself): each sends a 20 ms Opus frame of its own tone every 20 ms
 * (pre-encoded, so sending costs next to nothing) and, for the video run, real VP8 from
 * a gst-launch test source (not counted: those are the clients). Every port has a sink,
 * so every port's mix is encoded and the grid goes out of every port.
 *
 * Measured over DURATION seconds (default 20) after a 3 s warm-up: this process's CPU
 * from process.cpuUsage(), and the video child's from /proc/<pid>/stat (utime + stime).
 *
 * Run: npx tsx packages/media/scripts/mcuCpu.ts   (env: DURATION, INPUT=640x480@30, OUTPUT=640x480@15)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { RtpHeader, RtpPacket } from 'werift';
import { Engine } from '../src/core/Engine.js';
import type { HubPort } from '../src/core/HubPort.js';
import { InboundStream } from '../src/rtp/InboundStream.js';
import type { Composite } from '../src/mcu/Composite.js';
import { createOpusCoder, FRAME_SAMPLES, OPUS_RATE } from '../src/mcu/opus.js';

/** The script's media engine. */
const engine = new Engine();

const DURATION_S = Number(process.env.DURATION ?? 20);
const WARMUP_MS = 3000;
const [inSize, inFps] = (process.env.INPUT ?? '640x480@30').split('@') as [string, string];
const [inW, inH] = inSize.split('x').map(Number) as [number, number];
const [outSize, outFps] = (process.env.OUTPUT ?? '640x480@15').split('@') as [string, string];
const [outW, outH] = outSize.split('x').map(Number) as [number, number];
const TONES = [440, 660, 990, 1320];
const PORT_RANGE: [number, number] = [56800, 56849];
const SENDER_PORTS = 56960;
const CLK_TCK = 100;

function childCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
  } catch {
    return 0;
  }
}

function toneFrames(frequency: number): Buffer[] {
  const coder = createOpusCoder(1);
  coder.setBitrate(32000);
  const frames: Buffer[] = [];
  // 50 frames (1 s) loop seamlessly for these tones (whole periods per second).
  for (let f = 0; f < 50; f++) {
    const pcm = new Int16Array(FRAME_SAMPLES);
    for (let i = 0; i < FRAME_SAMPLES; i++) pcm[i] = Math.round(6000 * Math.sin((2 * Math.PI * frequency * (f * FRAME_SAMPLES + i)) / OPUS_RATE));
    frames.push(coder.encode(pcm));
  }
  coder.close();
  return frames;
}

interface Party {
  port: HubPort;
  audio: InboundStream;
  video: InboundStream;
  frames: Buffer[];
  seq: number;
  sender?: ChildProcess;
}

interface RunResult {
  node: number;
  child: number;
  wall: number;
  childPid: number | undefined;
  /** Audio packets out of all ports (4 mixes). */
  mixPackets: number;
  /** Packets of the composed video stream from the child. */
  videoOut: number;
  audioTicks: number;
}

async function run(withVideo: boolean): Promise<RunResult> {
  const pipeline = engine.createPipeline({ iceAddresses: ['127.0.0.1'], portRange: PORT_RANGE });
  const composite: Composite = pipeline.createComposite({ video: withVideo ? { width: outW, height: outH, frameRate: Number(outFps) } : false });
  let mixPackets = 0;
  const parties: Party[] = TONES.map((tone, i) => {
    const port = composite.createHubPort();
    // A sink per port (a sink takes one source), counting what leaves the port.
    const sink = pipeline.createPassThrough();
    sink.acceptRtp = (stream) => {
      if (stream.kind === 'audio') mixPackets++;
    };
    port.connect(sink);
    const party: Party = {
      port,
      audio: new InboundStream('audio', 100 + i, { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }, () => undefined),
      video: new InboundStream('video', 200 + i, { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }, () => undefined),
      frames: toneFrames(tone),
      seq: i * 1000,
    };
    return party;
  });

  const sockets = [];
  if (withVideo) {
    for (const [i, party] of parties.entries()) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(SENDER_PORTS + i, '127.0.0.1', () => resolve()));
      socket.on('message', (msg) => {
        const p = RtpPacket.deSerialize(msg);
        const now = performance.now();
        party.video.receive(p, now);
        party.port.acceptRtp(party.video, p, now);
      });
      sockets.push(socket);
      party.sender = spawn('gst-launch-1.0', ['-q', 'videotestsrc', 'is-live=true', `pattern=${i === 0 ? 'ball' : 18 + i}`, '!', `video/x-raw,width=${inW},height=${inH},framerate=${inFps}/1`, '!',
        'vp8enc', 'deadline=1', `keyframe-max-dist=${inFps}`, 'target-bitrate=500000', '!', 'rtpvp8pay', 'pt=96', 'mtu=1200', '!', 'udpsink', 'host=127.0.0.1', `port=${SENDER_PORTS + i}`], { stdio: 'ignore' });
    }
  }
  let n = 0;
  const audioTimer = setInterval(() => {
    const now = performance.now();
    for (const party of parties) {
      const p = new RtpPacket(new RtpHeader({ sequenceNumber: party.seq & 0xffff, timestamp: (party.seq * FRAME_SAMPLES) >>> 0, payloadType: 111, ssrc: party.audio.ssrc }), party.frames[n % 50]!);
      party.seq++;
      party.audio.receive(p, now);
      party.port.acceptRtp(party.audio, p, now);
    }
    n++;
  }, 20);

  // Warm up: every party in the grid and the composed stream flowing, then a little more.
  const ready = (): boolean => !withVideo || (composite.videoTiles.length === 4 && (composite.getStats().video?.outputPackets ?? 0) > 50);
  const deadline = Date.now() + 60_000;
  while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (!ready()) console.warn('  (the video grid was not flowing after 60 s: the machine is overloaded)');
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const video0 = composite.getStats().video?.outputPackets ?? 0;
  const childPid = composite.videoChildPid;
  const cpu0 = process.cpuUsage();
  const child0 = childCpuSeconds(childPid);
  const t0 = performance.now();
  const packets0 = mixPackets;
  await new Promise((r) => setTimeout(r, DURATION_S * 1000));
  const cpu = process.cpuUsage(cpu0);
  const child = childCpuSeconds(childPid) - child0;
  const wall = (performance.now() - t0) / 1000;
  const videoOut = (composite.getStats().video?.outputPackets ?? 0) - video0;
  const result = { node: (cpu.user + cpu.system) / 1e6, child, wall, childPid, mixPackets: mixPackets - packets0, videoOut, audioTicks: composite.getStats().audio.ticks };
  if (childPid !== composite.videoChildPid) console.warn('  (the video child restarted during the run: its figure is partial)');

  clearInterval(audioTimer);
  for (const party of parties) party.sender?.kill('SIGKILL');
  for (const s of sockets) s.close();
  pipeline.close();
  await composite.whenStopped();
  return result;
}

const pct = (seconds: number, wall: number): string => `${((100 * seconds) / wall).toFixed(1)}%`;

console.log(`4-party Composite, ${DURATION_S} s per run, CPU: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, Node ${process.version}`);
console.log('(percent of one core; "node" = this process: RTP in, Opus decode/mix/encode, RTP out; "child" = gst-launch video mix)');
const audio = await run(false);
console.log(`audio only:         node ${pct(audio.node, audio.wall)}   mixes sent ${(audio.mixPackets / audio.wall).toFixed(0)}/s (4 ports x 50/s expected)`);
const video = await run(true);
console.log(
  `audio + video grid: node ${pct(video.node, video.wall)}   child ${pct(video.child, video.wall)}   total ${pct(video.node + video.child, video.wall)}` +
    `   (input ${inW}x${inH}@${inFps} VP8 x4, output ${outW}x${outH}@${outFps} VP8)   mixes sent ${(video.mixPackets / video.wall).toFixed(0)}/s, grid packets ${(video.videoOut / video.wall).toFixed(0)}/s from the child`,
);
console.log(`load average during the runs: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
