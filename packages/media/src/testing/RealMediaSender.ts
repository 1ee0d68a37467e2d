import { createSocket, type Socket } from 'node:dgram';
import { SupervisedProcess } from '../recording/SupervisedProcess.js';

export interface RealMediaSenderOptions {
  /**
   * Two local UDP ports (video, audio) the encoder sends to. Default: free ports the system
   * picks at start(). Fixed numbers collide with other test files running at the same time
   * and with the system's ephemeral ports (they cover most of the range).
   */
  ports?: [number, number];
  video?: boolean;
  audio?: boolean;
  /** Tone of the audio test signal (Hz). Default 440. */
  frequency?: number;
  /** 'H264' sends H.264 (payload type 102, packetization-mode 1) from openh264enc instead. Default 'VP8'. */
  videoCodec?: 'VP8' | 'H264';
  /** Picture size and VP8 bitrate (bits/s). Default 320x240 at 300000. */
  width?: number;
  height?: number;
  videoBitrate?: number;
  /**
   * A still picture (PNG or JPEG) sent as the video instead of the moving test pattern,
   * stretched to width x height, e.g. findFaceImage() for FaceOverlayFilter tests. Default: none.
   */
  picture?: string;
  /** Frames per second of the video. Default 30. */
  frameRate?: number;
  /**
   * videotestsrc pattern of the moving picture, e.g. 'smpte' (colour bars, bright: a test
   * can tell it from black). Default 'ball' (a white ball on black).
   */
  pattern?: string;
}

/**
 * Real VP8 (payload type 96) and Opus (111) RTP for tests, encoded live by a
 * gst-launch-1.0 process from test patterns (a moving test picture, a sine tone), with
 * a keyframe every second. Packets arrive as buffers on `onPacket`, e.g. to be written
 * into a werift track, or are relayed to another UDP address with relayTo().
 */
export class RealMediaSender {
  private readonly sockets: Socket[] = [];
  private readonly process: SupervisedProcess;
  onPacket: (kind: 'audio' | 'video', packet: Buffer) => void = () => undefined;
  packets = { audio: 0, video: 0 };

  private args: string[] = [];

  constructor(private readonly options: RealMediaSenderOptions) {
    this.process = new SupervisedProcess({ name: 'test media sender', command: 'gst-launch-1.0', args: () => this.args, maxRestarts: 0 });
  }

  /** The encoder's command line, sending to the ports the sockets were bound to. */
  private commandLine(videoPort: number, audioPort: number): string[] {
    const options = this.options;
    const args: string[] = ['-q'];
    if (options.video ?? true) {
      const caps = `video/x-raw,width=${String(options.width ?? 320)},height=${String(options.height ?? 240)},framerate=${String(options.frameRate ?? 30)}/1`;
      const source = options.picture
        ? ['filesrc', `location=${options.picture}`, '!', 'decodebin', '!', 'videoconvert', '!', 'imagefreeze', 'is-live=true', '!', 'videoconvert', '!', 'videoscale', 'add-borders=false', '!', `${caps},pixel-aspect-ratio=1/1`]
        : `videotestsrc is-live=true pattern=${options.pattern ?? 'ball'} ! ${caps}`.split(' ');
      args.push(
        ...source,
        ...(options.videoCodec === 'H264'
          ? `! videoconvert ! openh264enc gop-size=30 bitrate=${String(options.videoBitrate ?? 300_000)} ! h264parse ! rtph264pay pt=102 mtu=1200 config-interval=-1`
          : `! vp8enc deadline=1 keyframe-max-dist=30 target-bitrate=${String(options.videoBitrate ?? 300_000)} ! rtpvp8pay pt=96 mtu=1200`
        ).split(' '),
        ...`! udpsink host=127.0.0.1 port=${String(videoPort)}`.split(' '),
      );
    }
    if (options.audio ?? true) {
      args.push(
        ...`audiotestsrc is-live=true wave=sine freq=${String(options.frequency ?? 440)} ! audioconvert ! audioresample ! opusenc`.split(' '),
        ...`! rtpopuspay pt=111 ! udpsink host=127.0.0.1 port=${String(audioPort)}`.split(' '),
      );
    }
    return args;
  }

  async start(): Promise<void> {
    const kinds: Array<['video' | 'audio', number]> = [
      ['video', this.options.ports?.[0] ?? 0],
      ['audio', this.options.ports?.[1] ?? 0],
    ];
    const bound: number[] = [];
    for (const [kind, port] of kinds) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, '127.0.0.1', () => resolve());
      });
      socket.on('message', (data) => {
        this.packets[kind]++;
        this.onPacket(kind, data);
      });
      this.sockets.push(socket);
      bound.push(socket.address().port);
    }
    this.args = this.commandLine(bound[0]!, bound[1]!);
    this.process.start();
  }

  /** Sends every packet on to `address:port` per kind (e.g. an RtpEndpoint's port). */
  relayTo(ports: { video?: number; audio?: number }, address = '127.0.0.1'): void {
    this.onPacket = (kind, packet) => {
      const port = ports[kind];
      if (port !== undefined) this.sockets[0]?.send(packet, port, address);
    };
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  async close(): Promise<void> {
    this.process.kill();
    await this.process.exited();
    this.process.close();
    for (const s of this.sockets) s.close();
    this.sockets.length = 0;
  }
}
