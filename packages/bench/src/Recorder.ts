import { DELAY_BUCKET_US, type DownlinkCount, type WorkerReport } from './ipc.js';
import { RTP_HEADER_BYTES, nowUs, type Kind, type ParsedHeader } from './traffic.js';

/** Sequence numbers remembered per downlink to tell a duplicate (a few seconds of video). */
const DUP_WINDOW = 2048;

/**
 * Counts what the participants of one worker send and receive inside the measurement
 * window (packets whose send time falls in it), and the one-way delay of each.
 */
export class Recorder {
  private startUs = Number.POSITIVE_INFINITY;
  private endUs = Number.NEGATIVE_INFINITY;
  private readonly sent = new Map<string, number>();
  private readonly downlinks = new Map<string, DownlinkCount>();
  private readonly histogram = new Map<number, number>();
  private receivedPackets = 0;
  private duplicatePackets = 0;
  /** Per downlink, the sequence numbers of the last DUP_WINDOW packets (slot = seq % DUP_WINDOW): a second arrival is a duplicate. */
  private readonly seen = new Map<string, Float64Array>();
  private receivedBytes = 0;
  private sentPackets = 0;
  private sentBytes = 0;

  /** Starts a new window: what was counted in the previous one is dropped (the soak measures window after window). */
  setWindow(startUs: number, endUs: number): void {
    this.startUs = startUs;
    this.endUs = endUs;
    this.sent.clear();
    for (const d of this.downlinks.values()) {
      d.received = 0;
      d.duplicates = 0;
      if (d.layers) d.layers = [];
    }
    this.histogram.clear();
    this.receivedPackets = 0;
    this.duplicatePackets = 0;
    this.receivedBytes = 0;
    this.sentPackets = 0;
    this.sentBytes = 0;
  }

  /** Forgets the downlinks of participants that left (the soak's churn would otherwise grow the report without end). */
  forget(ids: ReadonlySet<number>): void {
    for (const [key, d] of this.downlinks) {
      if (!ids.has(d.receiver) && !ids.has(d.sender)) continue;
      this.downlinks.delete(key);
      this.seen.delete(key);
    }
  }

  /** Declares a downlink, so that one that never receives anything still counts as 100 % loss. */
  expect(receiver: number, sender: number, kind: Kind): void {
    const key = `${receiver}>${sender}:${kind}`;
    if (!this.downlinks.has(key)) this.downlinks.set(key, { receiver, sender, kind, received: 0, duplicates: 0 });
  }

  /** `layer`: the simulcast layer it went on (counted apart: `${sender}:${kind}:${layer}`). */
  onSent(sender: number, kind: Kind, payloadBytes: number, sendUs: number, layer?: number): void {
    if (sendUs < this.startUs || sendUs >= this.endUs) return;
    const key = layer === undefined ? `${sender}:${kind}` : `${sender}:${kind}:${layer}`;
    this.sent.set(key, (this.sent.get(key) ?? 0) + 1);
    this.sentPackets++;
    this.sentBytes += payloadBytes + RTP_HEADER_BYTES;
  }

  onReceived(receiver: number, header: ParsedHeader, payloadBytes: number, recvUs = nowUs()): void {
    if (header.sendUs < this.startUs || header.sendUs >= this.endUs) return;
    const key = `${receiver}>${header.sender}:${header.kind}`;
    let d = this.downlinks.get(key);
    if (!d) {
      d = { receiver, sender: header.sender, kind: header.kind, received: 0, duplicates: 0 };
      this.downlinks.set(key, d);
    }
    let seen = this.seen.get(key);
    if (!seen) this.seen.set(key, (seen = new Float64Array(DUP_WINDOW).fill(-1)));
    const slot = header.seq % DUP_WINDOW;
    if (seen[slot] === header.seq) {
      d.duplicates++;
      this.duplicatePackets++;
      return;
    }
    seen[slot] = header.seq;
    d.received++;
    if (header.layer !== undefined) {
      d.layers ??= [];
      while (d.layers.length <= header.layer) d.layers.push(0);
      d.layers[header.layer]!++;
    }
    this.receivedPackets++;
    this.receivedBytes += payloadBytes + RTP_HEADER_BYTES;
    const bucket = Math.max(0, Math.floor((recvUs - header.sendUs) / DELAY_BUCKET_US));
    this.histogram.set(bucket, (this.histogram.get(bucket) ?? 0) + 1);
  }

  report(joins: WorkerReport['joins'], loopDelayP99Ms: number): WorkerReport {
    return {
      sent: Object.fromEntries(this.sent),
      downlinks: [...this.downlinks.values()],
      receivedPackets: this.receivedPackets,
      duplicatePackets: this.duplicatePackets,
      receivedBytes: this.receivedBytes,
      sentPackets: this.sentPackets,
      sentBytes: this.sentBytes,
      delayHistogram: Object.fromEntries([...this.histogram].map(([k, v]) => [String(k), v])),
      joins,
      loopDelayP99Ms,
    };
  }
}
