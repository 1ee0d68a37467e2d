/**
 * The soak's loopback test, as the web app's self-test does it: a werift peer opens
 * `/ws/loopback`, sends the bench's synthetic audio and video, and counts what the
 * server sends back (the same packets, its endpoint connected to itself), with their
 * one-way delay; then stops and closes. Nothing of it should stay on the server.
 */
import type { RTCPeerConnection } from 'werift';
import { DELAY_BUCKET_US } from '../ipc.js';
import { JsonSocket } from '../participants/JsonSocket.js';
import { receiveRtp } from '../participants/fastReceive.js';
import { UplinkTracks, createPeer, gatheringComplete, waitConnected } from '../participants/weriftPeer.js';
import { histogramQuantileMs } from '../stats.js';
import { DEFAULT_TRAFFIC, TrafficSchedule, nowUs, readPayload, writePayload } from '../traffic.js';

export interface LoopbackResult {
  /** Seconds since the soak started. */
  t: number;
  ok: boolean;
  /** From `start` to the peer connection connected. */
  connectMs: number;
  sent: number;
  received: number;
  p99Ms: number;
  error?: string;
}

/** Sender id of the probe's packets (participants count from 1). */
const PROBE_ID = 0xfffffff0;

export async function loopbackProbe(url: string, host: string, stunUrl: string, sendMs: number, t: number): Promise<LoopbackResult> {
  const result: LoopbackResult = { t, ok: false, connectMs: Number.NaN, sent: 0, received: 0, p99Ms: Number.NaN };
  const histogram = new Map<number, number>();
  let pc: RTCPeerConnection | undefined;
  let socket: JsonSocket | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let failure: string | undefined;
  try {
    pc = createPeer(host, stunUrl);
    const peer = pc;
    const schedule = new TrafficSchedule({ ...DEFAULT_TRAFFIC, videoKbps: 200 }, performance.now());
    const uplink = new UplinkTracks();
    uplink.attach(peer, () => schedule.requestKeyframe(), 'sendrecv');
    receiveRtp(
      peer,
      (payload) => {
        const header = readPayload(payload);
        if (!header || header.sender !== PROBE_ID) return;
        result.received++;
        const bucket = Math.max(0, Math.floor((nowUs() - header.sendUs) / DELAY_BUCKET_US));
        histogram.set(bucket, (histogram.get(bucket) ?? 0) + 1);
      },
      false,
    );
    const pending: Array<Record<string, unknown>> = [];
    let answered = false;
    socket = await JsonSocket.open(url, undefined, (frame) => {
      if (frame['id'] === 'startResponse') {
        void peer.setRemoteDescription({ type: 'answer', sdp: String(frame['sdpAnswer']) }).then(async () => {
          answered = true;
          for (const c of pending.splice(0)) await addCandidate(peer, c);
        });
      } else if (frame['id'] === 'iceCandidate') {
        const candidate = frame['candidate'] as Record<string, unknown>;
        if (answered) void addCandidate(peer, candidate);
        else pending.push(candidate);
      } else if (frame['id'] === 'error') {
        failure ??= String(frame['message']);
      }
    });
    await peer.setLocalDescription(await peer.createOffer());
    await gatheringComplete(peer);
    const started = performance.now();
    socket.send({ id: 'start', sdpOffer: peer.localDescription!.sdp });
    await waitConnected(peer, 30_000);
    result.connectMs = performance.now() - started;
    const seq = { audio: 0, video: 0 };
    ticker = setInterval(() => {
      for (const planned of schedule.due(performance.now())) {
        const payload = Buffer.allocUnsafe(planned.size);
        writePayload(payload, planned, PROBE_ID, seq[planned.kind]++, nowUs());
        uplink.send(planned, payload);
        result.sent++;
      }
    }, 5);
    await new Promise((resolve) => setTimeout(resolve, sendMs));
    clearInterval(ticker);
    ticker = undefined;
    await new Promise((resolve) => setTimeout(resolve, 500)); // the last packets on their way back
    result.p99Ms = histogramQuantileMs(histogram, 0.99);
    result.ok = result.received > 0;
    if (!result.ok) result.error = failure ?? 'no media came back';
  } catch (error) {
    result.error = failure ?? (error instanceof Error ? error.message : String(error));
  } finally {
    if (ticker) clearInterval(ticker);
    socket?.send({ id: 'stop' });
    socket?.close();
    await pc?.close().catch(() => undefined);
  }
  return result;
}

async function addCandidate(pc: RTCPeerConnection, c: Record<string, unknown>): Promise<void> {
  await pc
    .addIceCandidate({ candidate: String(c['candidate']), sdpMid: (c['sdpMid'] as string | null) ?? undefined, sdpMLineIndex: (c['sdpMLineIndex'] as number | null) ?? undefined })
    .catch(() => undefined);
}
