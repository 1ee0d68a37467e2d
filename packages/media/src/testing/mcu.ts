import { createSocket, type Socket } from 'node:dgram';
import { MediaStreamTrack, RtpHeader, RtpPacket, type RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { spawnOwnedChild, stopChild } from '../mcu/ChildProcesses.js';
import { createOpusCoder, FRAME_SAMPLES, OPUS_RATE, type OpusCoder } from '../mcu/opus.js';
import { spawn, type ChildProcess } from 'node:child_process';

/** Amplitude of the `frequency` component of `pcm` (mono, 48 kHz), by the Goertzel algorithm. */
export function toneAmplitude(pcm: Int16Array, frequency: number, rate = OPUS_RATE): number {
  const n = pcm.length;
  if (n === 0) return 0;
  const coeff = 2 * Math.cos((2 * Math.PI * frequency) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s = pcm[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(power, 0))) / n;
}

export interface McuTestPeerOptions {
  /** Frequency of the sine this peer sends, Hz (Opus, 20 ms frames). */
  frequency: number;
  /** Amplitude of the sine (16-bit scale). Default 6000. */
  amplitude?: number;
  /**
   * Real VP8 video from a gst-launch child (a solid `color` test picture, 320x240 at
   * 15 fps, keyframe every second) sent to a local UDP `port` and written into the
   * video track. Default: no video.
   */
  video?: { port: number; color: 'red' | 'green' | 'blue' | 'white' };
  /**
   * Synthetic VP8-shaped video instead (for forwarding tests, not decodable): 15
   * packets a second whose payload byte 2 is `tag`, a keyframe every 15. Default: none.
   */
  fakeVideoTag?: number;
}

const PATTERN = { white: 3, red: 4, green: 5, blue: 6 } as const;

/**
 * A werift test peer for the MCU: sends a sine tone as real Opus (and real VP8 video if
 * asked), and keeps what it receives: the audio decoded to PCM, the video packets.
 */
export class McuTestPeer {
  readonly audio = new MediaStreamTrack({ kind: 'audio' });
  readonly video = new MediaStreamTrack({ kind: 'video' });
  readonly receivedVideo: RtpPacket[] = [];
  /** Decoded received audio, one mono 20 ms frame per packet, in arrival order. */
  readonly receivedPcm: Int16Array[] = [];
  silent = false;
  private readonly encoder: OpusCoder = createOpusCoder(1);
  private readonly decoder: OpusCoder = createOpusCoder(1);
  private seq = Math.floor(Math.random() * 60000);
  private ts = Math.floor(Math.random() * 0x7fffffff);
  private sample = 0;
  private timer: NodeJS.Timeout | undefined;
  private videoTimer: NodeJS.Timeout | undefined;
  private child: ChildProcess | undefined;
  private socket: Socket | undefined;

  constructor(private readonly options: McuTestPeerOptions) {}

  /** Adds a sendrecv audio transceiver (and video) and collects what arrives on them. */
  attach(pc: WeriftPeerConnection): void {
    pc.addTransceiver(this.audio, { direction: 'sendrecv' });
    pc.addTransceiver(this.video, { direction: 'sendrecv' });
    pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((p) => {
        if (track.kind === 'video') this.receivedVideo.push(p);
        else this.onAudio(p);
      });
    });
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => this.sendTone(), 20);
    const tag = this.options.fakeVideoTag;
    if (tag !== undefined) {
      let n = 0;
      let seq = Math.floor(Math.random() * 60000);
      this.videoTimer = setInterval(() => {
        const payload = Buffer.alloc(300);
        payload[0] = 0x10;
        payload[1] = n % 15 === 0 ? 0x00 : 0x01;
        payload[2] = tag;
        this.video.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: seq, timestamp: n * 6000, marker: true, payloadType: 96 }), payload));
        seq = (seq + 1) & 0xffff;
        n++;
      }, 66);
    }
    const video = this.options.video;
    if (!video) return;
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(video.port, '127.0.0.1', () => resolve());
    });
    socket.on('message', (msg) => {
      try {
        const p = RtpPacket.deSerialize(msg);
        this.video.writeRtp(new RtpPacket(new RtpHeader({ ...p.header, payloadType: 96, extensions: [], extension: false }), p.payload));
      } catch {
        // not RTP: ignore
      }
    });
    this.socket = socket;
    const args = [
      '-q', 'videotestsrc', 'is-live=true', `pattern=${PATTERN[video.color]}`, '!', 'video/x-raw,width=320,height=240,framerate=15/1', '!',
      'vp8enc', 'deadline=1', 'keyframe-max-dist=15', 'target-bitrate=200000', '!', 'rtpvp8pay', 'pt=96', 'mtu=1100', '!',
      'udpsink', 'host=127.0.0.1', `port=${video.port}`,
    ];
    this.child = spawnOwnedChild('gst-launch-1.0', args);
  }

  /** Stops sending video (the port freezes); audio goes on. */
  async stopVideo(): Promise<void> {
    if (this.child) await stopChild(this.child);
    this.child = undefined;
  }

  /** Amplitude of each frequency in the last `ms` of received audio. */
  levels(frequencies: number[], ms = 1000): Map<number, number> {
    const frames = this.receivedPcm.slice(-Math.round(ms / 20));
    const pcm = new Int16Array(frames.length * FRAME_SAMPLES);
    let o = 0;
    for (const f of frames) {
      pcm.set(f.subarray(0, FRAME_SAMPLES), o);
      o += FRAME_SAMPLES;
    }
    return new Map(frequencies.map((f) => [f, toneAmplitude(pcm.subarray(0, o), f)]));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.videoTimer) clearInterval(this.videoTimer);
    this.timer = undefined;
    this.videoTimer = undefined;
    await this.stopVideo();
    this.socket?.close();
    this.socket = undefined;
    this.encoder.close();
    this.decoder.close();
  }

  private sendTone(): void {
    const pcm = new Int16Array(FRAME_SAMPLES);
    const amplitude = this.silent ? 0 : (this.options.amplitude ?? 6000);
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * this.options.frequency * (this.sample + i)) / OPUS_RATE));
    }
    this.sample += FRAME_SAMPLES;
    const payload = this.encoder.encode(pcm);
    this.audio.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: this.seq, timestamp: this.ts, payloadType: 111 }), payload));
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + FRAME_SAMPLES) >>> 0;
  }

  private onAudio(p: RtpPacket): void {
    try {
      this.receivedPcm.push(this.decoder.decode(p.payload));
    } catch {
      // an undecodable packet counts as nothing received
    }
  }
}

/**
 * Writes received VP8 RTP packets as an IVF file (the container ffmpeg reads raw VP8
 * from): packets are ordered by sequence number and grouped into frames by timestamp;
 * frames with a gap in their packets are left out.
 */
export function vp8PacketsToIvf(packets: RtpPacket[]): { ivf: Buffer; width: number; height: number; frames: number } {
  const sorted = [...packets].sort((a, b) => unwrapOrder(a, b));
  const frames: Buffer[] = [];
  let current: { ts: number; parts: Buffer[]; lastSeq: number; broken: boolean } | undefined;
  const flush = (): void => {
    if (current && !current.broken && current.parts.length > 0) {
      const frame = Buffer.concat(current.parts);
      // Start at a keyframe (bit 0 of the frame tag clear): a decoder needs one first.
      if (frames.length > 0 || (frame[0]! & 0x01) === 0) frames.push(frame);
    }
    current = undefined;
  };
  for (const p of sorted) {
    const h = p.header;
    const descriptor = vp8DescriptorLength(p.payload);
    if (descriptor < 0) continue;
    const start = (p.payload[0]! & 0x10) !== 0;
    if (!current || current.ts !== h.timestamp) {
      flush();
      current = { ts: h.timestamp, parts: [], lastSeq: h.sequenceNumber - 1, broken: !start };
    }
    if (((current.lastSeq + 1) & 0xffff) !== h.sequenceNumber) current.broken = true;
    current.lastSeq = h.sequenceNumber;
    current.parts.push(p.payload.subarray(descriptor));
    if (h.marker) flush();
  }
  flush();
  const size = frames[0] ? vp8KeyframeSize(frames[0]) : { width: 0, height: 0 };
  const { width, height } = size;
  const header = Buffer.alloc(32);
  header.write('DKIF', 0);
  header.writeUInt16LE(0, 4);
  header.writeUInt16LE(32, 6);
  header.write('VP80', 8);
  header.writeUInt16LE(width, 12);
  header.writeUInt16LE(height, 14);
  header.writeUInt32LE(15, 16);
  header.writeUInt32LE(1, 20);
  header.writeUInt32LE(frames.length, 24);
  const out: Buffer[] = [header];
  frames.forEach((f, i) => {
    const fh = Buffer.alloc(12);
    fh.writeUInt32LE(f.length, 0);
    fh.writeBigUInt64LE(BigInt(i), 4);
    out.push(fh, f);
  });
  return { ivf: Buffer.concat(out), width, height, frames: frames.length };
}

/** Width and height from a VP8 keyframe header (RFC 6386 9.1). */
export function vp8KeyframeSize(frame: Buffer): { width: number; height: number } {
  if (frame.length < 10 || frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return { width: 0, height: 0 };
  return { width: frame.readUInt16LE(6) & 0x3fff, height: frame.readUInt16LE(8) & 0x3fff };
}

export interface DecodedVideo {
  width: number;
  height: number;
  /** Decoded frames, RGB24, `width * height * 3` bytes each. */
  frames: Buffer[];
}

/** Decodes received VP8 RTP with ffmpeg (Debian's ffmpeg 5.1) into RGB frames. */
export async function decodeVp8(packets: RtpPacket[]): Promise<DecodedVideo> {
  const { ivf, width, height, frames } = vp8PacketsToIvf(packets);
  if (frames === 0 || width === 0) return { width, height, frames: [] };
  const ffmpeg = spawn('ffmpeg', ['-v', 'error', '-f', 'ivf', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  ffmpeg.stdout.on('data', (c: Buffer) => chunks.push(c));
  ffmpeg.stderr.resume();
  ffmpeg.stdin.on('error', () => undefined);
  ffmpeg.stdin.end(ivf);
  await new Promise<void>((resolve, reject) => {
    ffmpeg.once('error', reject);
    ffmpeg.once('close', () => resolve());
  });
  const raw = Buffer.concat(chunks);
  const frameBytes = width * height * 3;
  const decoded: Buffer[] = [];
  for (let o = 0; o + frameBytes <= raw.length; o += frameBytes) decoded.push(raw.subarray(o, o + frameBytes));
  return { width, height, frames: decoded };
}

/** Mean RGB of a w x h block centred at (cx, cy) of an RGB24 frame. */
export function meanColor(frame: Buffer, width: number, cx: number, cy: number, size = 8): [number, number, number] {
  const sum = [0, 0, 0];
  let n = 0;
  for (let y = cy - size; y < cy + size; y++) {
    for (let x = cx - size; x < cx + size; x++) {
      const o = (y * width + x) * 3;
      sum[0]! += frame[o]!;
      sum[1]! += frame[o + 1]!;
      sum[2]! += frame[o + 2]!;
      n++;
    }
  }
  return [sum[0]! / n, sum[1]! / n, sum[2]! / n];
}

function unwrapOrder(a: RtpPacket, b: RtpPacket): number {
  const d = (a.header.sequenceNumber - b.header.sequenceNumber) & 0xffff;
  return d === 0 ? 0 : d < 0x8000 ? 1 : -1;
}

/** Length of the VP8 payload descriptor (RFC 7741), or -1 when malformed. */
export function vp8DescriptorLength(payload: Buffer): number {
  if (payload.length < 1) return -1;
  const b0 = payload[0]!;
  let offset = 1;
  if (b0 & 0x80) {
    if (payload.length < 2) return -1;
    const b1 = payload[1]!;
    offset = 2;
    if (b1 & 0x80) offset += (payload[offset] ?? 0) & 0x80 ? 2 : 1;
    if (b1 & 0x40) offset += 1;
    if (b1 & 0x30) offset += 1;
  }
  return offset < payload.length ? offset : -1;
}
