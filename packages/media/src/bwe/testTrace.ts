/**
 * Tests only: a simulated downlink for the estimator, on a simulated clock. A sender
 * sends 1200-byte packets at a rate it chooses every 10 ms; the link is a drop-tail
 * queue served at a capacity that may change with time (a `tc tbf` with `latency`),
 * then a fixed propagation delay; some packets may be lost at random. Every 100 ms the
 * receiver writes a transport-cc feedback of what arrived, with arrival times on its
 * own clock; the feedback goes back through the parser and FeedbackReader into the
 * estimator, as on a transport.
 */
import { BandwidthEstimator, type BandwidthEstimatorOptions } from './BandwidthEstimator.js';
import { FeedbackReader, SendHistory } from './SendHistory.js';
import { readTransportCcFeedback, writeTransportCcFeedback } from './transportCc.js';

export interface TraceOptions {
  durationMs: number;
  /** Link capacity at time t, bits/s. */
  capacity(t: number): number;
  /** What the sender sends at time t given the current estimate, bits/s. */
  sendRate(t: number, estimate: number): number;
  /** Random loss probability at time t (seeded, reproducible). Default 0. */
  loss?(t: number): number;
  /** The queue's limit in ms of the capacity at the time (tbf's latency). Default 400. */
  queueMs?: number;
  propagationMs?: number;
  estimator?: BandwidthEstimatorOptions;
  seed?: number;
  /** A probe to send at time t (its target, bits/s), as WebRtcTransport.probe() does: 30 ms of the target in 5-30 packets, back to back. */
  probe?(t: number, estimator: BandwidthEstimator): number | undefined;
}

/** The packets of a probe cluster for `target` (WebRtcTransport.probe's rule). */
export function probePackets(target: number, packetBytes: number): number {
  return Math.max(5, Math.min(30, Math.ceil((target * 0.03) / 8 / packetBytes)));
}

export interface TraceSample {
  t: number;
  estimate: number;
  sendRate: number;
  queueMs: number;
}

const PACKET = 1200;
const RECEIVER_CLOCK_OFFSET_MS = 987_654;

export function runTrace(options: TraceOptions): TraceSample[] {
  const estimator = new BandwidthEstimator(options.estimator);
  const history = new SendHistory();
  const reader = new FeedbackReader(history);
  const propagation = options.propagationMs ?? 20;
  const queueLimitMs = options.queueMs ?? 400;
  let seed = options.seed ?? 7;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  // The time the link finishes sending what is queued.
  let linkFreeAt = 0;
  let credit = 0;
  let feedbackCount = 0;
  // Arrivals by transport-wide sequence number (16-bit) since the last feedback.
  let pending: Array<{ seq: number; arrival: number | undefined }> = [];
  const inFlightFeedback: Array<{ at: number; data: Buffer }> = [];
  const samples: TraceSample[] = [];
  for (let t = 0; t < options.durationMs; t += 10) {
    const rate = options.sendRate(t, estimator.bitrate);
    credit += (rate * 10) / 1000 / 8;
    const capacity = options.capacity(t);
    const send = (): number => {
      const seq = history.next(t, PACKET);
      const queued = Math.max(0, linkFreeAt - t);
      const lost = queued > queueLimitMs || random() < (options.loss?.(t) ?? 0);
      if (lost) {
        pending.push({ seq, arrival: undefined });
        return seq;
      }
      linkFreeAt = Math.max(linkFreeAt, t) + (PACKET * 8 * 1000) / capacity;
      pending.push({ seq, arrival: linkFreeAt + propagation });
      return seq;
    };
    while (credit >= PACKET) {
      credit -= PACKET;
      send();
    }
    const target = estimator.probing ? undefined : options.probe?.(t, estimator);
    const probeSeqs: number[] = [];
    for (let i = 0; target !== undefined && i < probePackets(target, PACKET); i++) probeSeqs.push(send());
    if (target !== undefined) estimator.onProbeSent(probeSeqs, target, t);
    if (t % 100 === 0 && pending.length > 0) {
      // What has arrived by now goes into this feedback; the rest waits for the next.
      const cut = pending.findIndex((p) => p.arrival !== undefined && p.arrival > t);
      const batch = cut === -1 ? pending : pending.slice(0, cut);
      if (batch.length > 0) {
        pending = cut === -1 ? [] : pending.slice(cut);
        const arrivals = batch.map((p) => (p.arrival === undefined ? undefined : Math.round((p.arrival + RECEIVER_CLOCK_OFFSET_MS) * 4) * 250));
        inFlightFeedback.push({ at: t + propagation, data: writeTransportCcFeedback(1, 2, batch[0]!.seq, feedbackCount++, arrivals) });
      }
    }
    while (inFlightFeedback.length > 0 && inFlightFeedback[0]!.at <= t) {
      const data = inFlightFeedback.shift()!.data;
      const fb = readTransportCcFeedback(data, 0, data.length);
      if (fb) estimator.onPacketResults(reader.read(fb), t, 2 * propagation + Math.max(0, linkFreeAt - t));
    }
    if (t % 100 === 0) samples.push({ t, estimate: estimator.bitrate, sendRate: rate, queueMs: Math.max(0, linkFreeAt - t) });
  }
  return samples;
}

/** The first sample time at or after `from` where `test` holds. */
export function firstTime(samples: readonly TraceSample[], from: number, test: (s: TraceSample) => boolean): number | undefined {
  return samples.find((s) => s.t >= from && test(s))?.t;
}
