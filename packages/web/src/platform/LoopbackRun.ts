/**
 * The loopback self-test over the server's `/ws/loopback` (no sign-in needed): the
 * camera and microphone go to the media server, which sends them straight back on the
 * same peer connection. Reports the round trip and the frames decoded from getStats().
 *
 * client -> server: start {sdpOffer}, onIceCandidate {candidate}, stop
 * server -> client: startResponse {sdpAnswer}, iceCandidate {candidate}, error {message}
 */
import { reactive } from 'vue';
import { openLocalMedia, stopStream } from './localMedia.js';

export type LoopbackPhase = 'idle' | 'starting' | 'connecting' | 'connected' | 'stopped' | 'failed';

interface ServerMessage {
  id: string;
  sdpAnswer?: string;
  candidate?: RTCIceCandidateInit;
  message?: string;
}

const STATS_INTERVAL_MS = 1000;

export class LoopbackRun {
  readonly state = reactive({
    phase: 'idle' as LoopbackPhase,
    roundTripMs: null as number | null,
    framesDecoded: 0,
    audioPacketsReceived: 0,
    error: null as string | null,
  });
  local: MediaStream | null = null;
  readonly remote = new MediaStream();
  pc: RTCPeerConnection | null = null;
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  private remoteSet = false;
  private readonly earlyRemote: RTCIceCandidateInit[] = [];
  private inbox: Promise<void> = Promise.resolve();

  async start(): Promise<void> {
    this.state.phase = 'starting';
    try {
      this.local = await openLocalMedia(false);
      const ws = await this.openSocket();
      this.ws = ws;
      ws.onmessage = (event: MessageEvent) => {
        this.inbox = this.inbox.then(() => this.receive(String(event.data))).catch((error: unknown) => this.fail(error));
      };
      ws.onclose = () => {
        if (this.ws === ws) this.fail(new Error('the loopback WebSocket closed'));
      };
      const pc = new RTCPeerConnection();
      this.pc = pc;
      for (const track of this.local.getTracks()) pc.addTransceiver(track, { direction: 'sendrecv', streams: [this.local] });
      pc.ontrack = (event) => this.remote.addTrack(event.track);
      pc.onicecandidate = (event) => {
        if (event.candidate?.candidate) this.send({ id: 'onIceCandidate', candidate: event.candidate.toJSON() });
      };
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === 'connected') this.state.phase = 'connected';
        else if (pc.connectionState === 'failed') this.fail(new Error('the WebRTC connection failed'));
      };
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      this.send({ id: 'start', sdpOffer: pc.localDescription?.sdp ?? '' });
      this.timer = setInterval(() => void this.sample(), STATS_INTERVAL_MS);
    } catch (error) {
      this.fail(error);
    }
  }

  stop(phase: LoopbackPhase = 'stopped'): void {
    clearInterval(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ id: 'stop' }));
      ws.close();
    }
    this.pc?.close();
    this.pc = null;
    stopStream(this.local);
    this.local = null;
    for (const track of this.remote.getTracks()) this.remote.removeTrack(track);
    this.state.phase = phase;
  }

  private fail(error: unknown): void {
    this.state.error = error instanceof Error ? error.message : String(error);
    this.stop('failed');
  }

  private openSocket(): Promise<WebSocket> {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/ws/loopback`);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error('could not connect to the loopback WebSocket'));
    });
  }

  private send(message: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  private async receive(data: string): Promise<void> {
    const pc = this.pc;
    if (!pc) return;
    const msg = JSON.parse(data) as ServerMessage;
    if (msg.id === 'startResponse' && msg.sdpAnswer) {
      await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdpAnswer });
      this.remoteSet = true;
      for (const c of this.earlyRemote.splice(0)) await pc.addIceCandidate(c);
      if (this.state.phase === 'starting') this.state.phase = 'connecting';
    } else if (msg.id === 'iceCandidate' && msg.candidate) {
      if (this.remoteSet) await pc.addIceCandidate(msg.candidate);
      else this.earlyRemote.push(msg.candidate);
    } else if (msg.id === 'error') {
      throw new Error(`server: ${msg.message ?? 'error'}`);
    }
  }

  private async sample(): Promise<void> {
    const pc = this.pc;
    if (!pc) return;
    const report = await pc.getStats();
    let pairId: string | null = null;
    report.forEach((s: Record<string, unknown>) => {
      if (s['type'] === 'transport' && typeof s['selectedCandidatePairId'] === 'string') pairId = s['selectedCandidatePairId'];
    });
    report.forEach((s: Record<string, unknown>) => {
      if (s['type'] === 'candidate-pair' && s['id'] === pairId && typeof s['currentRoundTripTime'] === 'number') this.state.roundTripMs = s['currentRoundTripTime'] * 1000;
      if (s['type'] === 'inbound-rtp' && s['kind'] === 'video') this.state.framesDecoded = Number(s['framesDecoded'] ?? 0);
      if (s['type'] === 'inbound-rtp' && s['kind'] === 'audio') this.state.audioPacketsReceived = Number(s['packetsReceived'] ?? 0);
    });
  }
}
