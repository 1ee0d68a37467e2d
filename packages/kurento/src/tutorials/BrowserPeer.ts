import wrtc from '@roamhq/wrtc';

const { RTCPeerConnection, nonstandard } = wrtc;

/** An I420 picture, as libwebrtc's video sources and sinks take and give them. */
export interface RTCVideoFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

/** What the tutorial's page asks kurento-utils for: WebRtcPeerSendrecv, ...Sendonly, ...Recvonly. */
export type PeerMode = 'sendrecv' | 'sendonly' | 'recvonly';

/** A candidate as the page sends it (`JSON.stringify(RTCIceCandidate)`). */
export interface CandidateJson {
  candidate: string;
  sdpMid: string | null;
  sdpMLineIndex: number | null;
}

export interface BrowserPeerOptions {
  mode: PeerMode;
  stunUrl: string;
  /** Luma of the flat test picture the camera shows (0-255). Ignored when `frame` is given. */
  luma?: number;
  /** Frequency of the microphone's tone, in Hz. */
  toneHz?: number;
  /** The camera: picture number n (30 per second). Default: a flat picture of `luma`. */
  frame?: (n: number) => RTCVideoFrame;
}

/** What arrived at a peer, measured on the decoded media. */
export interface Reception {
  videoFrames: number;
  /** Mean luma of the last decoded pictures (up to 30). */
  recentLuma: number[];
  lastFrame: RTCVideoFrame | undefined;
  /** 10 ms audio blocks that were not silence. */
  audioBlocks: number;
  /** Tone frequency estimated from zero crossings of the non-silent audio, in Hz. */
  toneHz: number;
}

const WIDTH = 320;
const HEIGHT = 240;

/** Only loopback UDP candidates leave the peer: everything stays on 127.0.0.1. */
function isLoopbackUdp(candidate: string): boolean {
  const parts = candidate.split(' ');
  return parts[2]?.toLowerCase() === 'udp' && parts[4] === '127.0.0.1';
}

export function flatFrame(luma: number): RTCVideoFrame {
  const data = new Uint8Array((WIDTH * HEIGHT * 3) / 2);
  data.fill(luma, 0, WIDTH * HEIGHT);
  data.fill(128, WIDTH * HEIGHT);
  return { width: WIDTH, height: HEIGHT, data };
}

function meanLuma(frame: RTCVideoFrame): number {
  const n = frame.width * frame.height;
  let sum = 0;
  for (let i = 0; i < n; i += 7) sum += frame.data[i]!;
  return sum / Math.ceil(n / 7);
}

/**
 * A libwebrtc peer (@roamhq/wrtc) doing what kurento-utils' WebRtcPeer does in the
 * tutorial's page: camera and microphone (a synthetic picture and tone), an offer,
 * local candidates trickled to the app, the app's candidates and answer applied.
 * It measures what it receives on the decoded media, so a scenario can tell whose
 * media arrived.
 */
export class BrowserPeer {
  readonly pc: InstanceType<typeof RTCPeerConnection>;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly sinks: Array<{ stop(): void }> = [];
  private readonly localCandidates: CandidateJson[] = [];
  private trickle: ((c: CandidateJson) => void) | undefined;
  private readonly remoteQueue: CandidateJson[] = [];
  private answered = false;
  private zeroCrossings = 0;
  private audioSamples = 0;
  private audioRate = 48_000;
  readonly reception: Reception = { videoFrames: 0, recentLuma: [], lastFrame: undefined, audioBlocks: 0, toneHz: 0 };

  constructor(private readonly options: BrowserPeerOptions) {
    this.pc = new RTCPeerConnection({ iceServers: [{ urls: options.stunUrl }] });
    this.pc.onicecandidate = (e) => {
      if (!e.candidate || !isLoopbackUdp(e.candidate.candidate)) return;
      const c = { candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex };
      if (this.trickle) this.trickle(c);
      else this.localCandidates.push(c);
    };
    this.pc.ontrack = (e) => this.measure(e.track);
    if (options.mode === 'recvonly') {
      this.pc.addTransceiver('video', { direction: 'recvonly' });
      this.pc.addTransceiver('audio', { direction: 'recvonly' });
    } else {
      this.startCamera(options.mode);
    }
  }

  private startCamera(direction: 'sendrecv' | 'sendonly'): void {
    const video = new nonstandard.RTCVideoSource();
    const audio = new nonstandard.RTCAudioSource();
    this.pc.addTransceiver(video.createTrack(), { direction });
    this.pc.addTransceiver(audio.createTrack(), { direction });
    const flat = flatFrame(this.options.luma ?? 128);
    let n = 0;
    this.timers.push(setInterval(() => video.onFrame(this.options.frame ? this.options.frame(n++) : flat), 33));
    const hz = this.options.toneHz ?? 440;
    const samples = new Int16Array(480);
    let t = 0;
    this.timers.push(
      setInterval(() => {
        for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * t++) / 48_000));
        audio.onData({ samples, sampleRate: 48_000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
      }, 10),
    );
  }

  private measure(track: MediaStreamTrack): void {
    if (track.kind === 'video') {
      const sink = new nonstandard.RTCVideoSink(track);
      sink.onframe = ({ frame }: { frame: RTCVideoFrame }) => {
        const r = this.reception;
        r.videoFrames++;
        r.lastFrame = frame;
        r.recentLuma.push(meanLuma(frame));
        if (r.recentLuma.length > 30) r.recentLuma.shift();
      };
      this.sinks.push(sink);
    } else {
      const sink = new nonstandard.RTCAudioSink(track);
      sink.ondata = (data: { samples: Int16Array; sampleRate: number; channelCount?: number }) => {
        const channels = data.channelCount ?? 1;
        let energy = 0;
        for (let i = 0; i < data.samples.length; i += channels) energy += data.samples[i]! * data.samples[i]!;
        const frames = data.samples.length / channels;
        if (Math.sqrt(energy / frames) < 500) return;
        let crossings = 0;
        for (let i = channels; i < data.samples.length; i += channels) {
          if (data.samples[i - channels]! < 0 !== data.samples[i]! < 0) crossings++;
        }
        this.zeroCrossings += crossings;
        this.audioSamples += frames;
        this.audioRate = data.sampleRate;
        this.reception.audioBlocks++;
        this.reception.toneHz = this.zeroCrossings / 2 / (this.audioSamples / this.audioRate);
      };
      this.sinks.push(sink);
    }
  }

  async createOffer(): Promise<string> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    return offer.sdp!;
  }

  /** Sends local candidates through `send` from now on (those found so far first). */
  trickleTo(send: (c: CandidateJson) => void): void {
    this.trickle = send;
    for (const c of this.localCandidates.splice(0)) send(c);
  }

  async setAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    this.answered = true;
    for (const c of this.remoteQueue.splice(0)) await this.pc.addIceCandidate(c);
  }

  /** The app's `iceCandidate`: kept until the answer is set, as a browser would need. */
  async addRemoteCandidate(c: CandidateJson): Promise<void> {
    if (!this.answered) this.remoteQueue.push(c);
    else await this.pc.addIceCandidate(c);
  }

  /** The luma of the picture this peer would see, steady over the recent pictures. */
  seenLuma(): number | undefined {
    const l = this.reception.recentLuma;
    if (l.length < 5) return undefined;
    return l.slice(-5).reduce((a, b) => a + b, 0) / 5;
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const s of this.sinks) s.stop();
    this.pc.close();
  }
}
