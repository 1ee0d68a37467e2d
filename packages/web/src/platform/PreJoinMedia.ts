/**
 * The pre-join screen's media: the camera and microphone opened with the chosen
 * devices, the device lists, and a microphone level (WebAudio analyser, RMS every
 * 100 ms). take() hands the stream to the call; close() stops everything.
 */
import { markRaw, reactive } from 'vue';
import { stopStream, VIDEO_CONSTRAINTS } from './localMedia.js';

export interface DeviceOption {
  id: string;
  label: string;
}

const METER_INTERVAL_MS = 100;

export class PreJoinMedia {
  readonly state = reactive({
    /** 0..1, the microphone's loudness now. */
    level: 0,
    /** The browser refused or found no device. */
    error: null as unknown,
    audioInputs: [] as DeviceOption[],
    videoInputs: [] as DeviceOption[],
    audioId: '',
    videoId: '',
    stream: null as MediaStream | null,
  });
  private audioContext: AudioContext | null = null;
  private meterTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  /** Opens (again) with these devices ('' for the default). */
  async open(audioOnly: boolean, audioId = '', videoId = ''): Promise<void> {
    this.stopMeter();
    stopStream(this.state.stream);
    this.state.stream = null;
    this.state.error = null;
    try {
      if (!navigator.mediaDevices) throw new Error('camera access needs a secure context (https or localhost)');
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: audioId ? { deviceId: { exact: audioId } } : true,
        video: audioOnly ? false : { ...VIDEO_CONSTRAINTS, ...(videoId ? { deviceId: { exact: videoId } } : {}) },
      });
      if (this.closed) {
        stopStream(stream);
        return;
      }
      this.state.stream = markRaw(stream);
      this.state.audioId = stream.getAudioTracks()[0]?.getSettings().deviceId ?? audioId;
      this.state.videoId = stream.getVideoTracks()[0]?.getSettings().deviceId ?? videoId;
      await this.listDevices();
      this.startMeter(stream);
    } catch (error) {
      this.state.error = error;
    }
  }

  /** The stream for the call (it owns it from now on); null when none opened. */
  take(): MediaStream | null {
    this.stopMeter();
    const stream = this.state.stream;
    this.state.stream = null;
    this.closed = true;
    return stream;
  }

  close(): void {
    this.closed = true;
    this.stopMeter();
    stopStream(this.state.stream);
    this.state.stream = null;
  }

  private async listDevices(): Promise<void> {
    const all = await navigator.mediaDevices.enumerateDevices();
    const options = (kind: MediaDeviceKind): DeviceOption[] => all.filter((d) => d.kind === kind && d.deviceId !== '').map((d, i) => ({ id: d.deviceId, label: d.label || `${i + 1}` }));
    this.state.audioInputs = options('audioinput');
    this.state.videoInputs = options('videoinput');
  }

  private startMeter(stream: MediaStream): void {
    if (stream.getAudioTracks().length === 0 || typeof AudioContext === 'undefined') return;
    const context = new AudioContext();
    this.audioContext = context;
    void context.resume().catch(() => undefined);
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    this.meterTimer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const x of samples) sum += x * x;
      // RMS of speech is ~0.05-0.3: scaled so that normal speech fills most of the meter.
      this.state.level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
    }, METER_INTERVAL_MS);
  }

  private stopMeter(): void {
    clearInterval(this.meterTimer);
    this.meterTimer = undefined;
    this.state.level = 0;
    void this.audioContext?.close().catch(() => undefined);
    this.audioContext = null;
  }
}
