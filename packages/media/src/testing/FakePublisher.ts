import { MediaStreamTrack, RtpHeader, RtpPacket, type RTCPeerConnection as WeriftPeerConnection } from 'werift';

/**
 * Sends synthetic RTP from a werift peer: VP8-shaped video (a keyframe first and every
 * `keyframeEvery` packets, or right after a PLI) and Opus-sized audio packets. Each
 * payload carries a marker byte and a counter, so receivers can tell packets apart.
 */
export class FakePublisher {
  readonly video = new MediaStreamTrack({ kind: 'video' });
  readonly audio = new MediaStreamTrack({ kind: 'audio' });
  private videoSeq = Math.floor(Math.random() * 60000);
  private audioSeq = Math.floor(Math.random() * 60000);
  private videoTs = 1000;
  private audioTs = 2000;
  private counter = 0;
  private keyframePending = true;
  pliReceived = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly tag: number,
    private readonly keyframeEvery = 30,
  ) {}

  attach(pc: WeriftPeerConnection, direction: 'sendonly' | 'sendrecv' = 'sendonly'): void {
    const v = pc.addTransceiver(this.video, { direction });
    pc.addTransceiver(this.audio, { direction });
    v.sender.onPictureLossIndication.subscribe(() => {
      this.pliReceived++;
      this.keyframePending = true;
    });
  }

  /** Sends one video and one audio packet. Returns the sequence numbers used. */
  sendOne(): { videoSeq: number; audioSeq: number } {
    const keyframe = this.keyframePending || this.counter % this.keyframeEvery === 0;
    this.keyframePending = false;
    const payload = Buffer.alloc(200);
    payload[0] = 0x10; // VP8 descriptor: S=1, partition 0
    payload[1] = keyframe ? 0x00 : 0x01; // VP8 header: P bit clear on keyframes
    payload[2] = this.tag;
    payload.writeUInt32BE(this.counter, 4);
    const videoSeq = this.videoSeq;
    this.video.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: videoSeq, timestamp: this.videoTs, marker: true, payloadType: 96 }), payload));
    const audio = Buffer.alloc(80);
    audio[0] = this.tag;
    audio.writeUInt32BE(this.counter, 4);
    const audioSeq = this.audioSeq;
    this.audio.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: audioSeq, timestamp: this.audioTs, payloadType: 111 }), audio));
    this.videoSeq = (this.videoSeq + 1) & 0xffff;
    this.audioSeq = (this.audioSeq + 1) & 0xffff;
    this.videoTs = (this.videoTs + 3000) >>> 0;
    this.audioTs = (this.audioTs + 960) >>> 0;
    this.counter++;
    return { videoSeq, audioSeq };
  }

  start(intervalMs = 20): void {
    this.timer = setInterval(() => this.sendOne(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
