import { describe, expect, it } from 'vitest';
import { Recorder } from './Recorder.js';

describe('Recorder', () => {
  it('counts a packet received twice on a downlink once, and the second copy as a duplicate', () => {
    const recorder = new Recorder();
    recorder.setWindow(0, 1_000_000);
    recorder.expect(1, 2, 'video');
    for (let seq = 0; seq < 100; seq++) recorder.onSent(2, 'video', 1000, 10 + seq);
    for (let seq = 0; seq < 100; seq++) {
      recorder.onReceived(1, { kind: 'video', sender: 2, seq, sendUs: 10 + seq }, 1000, 20 + seq);
      if (seq % 4 === 0) recorder.onReceived(1, { kind: 'video', sender: 2, seq, sendUs: 10 + seq }, 1000, 30 + seq);
    }
    // The same numbers on another downlink are not duplicates.
    for (let seq = 0; seq < 10; seq++) recorder.onReceived(3, { kind: 'video', sender: 2, seq, sendUs: 10 + seq }, 1000, 20 + seq);
    const report = recorder.report([], 0);
    expect(report.receivedPackets).toBe(110);
    expect(report.duplicatePackets).toBe(25);
    expect(report.downlinks.find((d) => d.receiver === 1)).toMatchObject({ received: 100, duplicates: 25 });
    expect(report.downlinks.find((d) => d.receiver === 3)).toMatchObject({ received: 10, duplicates: 0 });
  });

  it('a new window starts its counts (and its duplicates) again', () => {
    const recorder = new Recorder();
    recorder.setWindow(0, 100);
    recorder.onReceived(1, { kind: 'audio', sender: 2, seq: 5, sendUs: 50 }, 100, 60);
    recorder.onReceived(1, { kind: 'audio', sender: 2, seq: 5, sendUs: 50 }, 100, 61);
    expect(recorder.report([], 0)).toMatchObject({ receivedPackets: 1, duplicatePackets: 1 });
    recorder.setWindow(100, 200);
    recorder.onReceived(1, { kind: 'audio', sender: 2, seq: 6, sendUs: 150 }, 100, 160);
    expect(recorder.report([], 0)).toMatchObject({ receivedPackets: 1, duplicatePackets: 0 });
  });

  it('counts a simulcast downlink\'s packets by the layer they came on, and starts them again with a new window', () => {
    const recorder = new Recorder();
    recorder.setWindow(0, 1000);
    for (let seq = 0; seq < 10; seq++) recorder.onSent(2, 'video', 500, 10 + seq, seq < 4 ? 0 : 2);
    for (let seq = 0; seq < 10; seq++) recorder.onReceived(1, { kind: 'video', sender: 2, seq, sendUs: 10 + seq, layer: seq < 4 ? 0 : 2 }, 500, 20 + seq);
    const report = recorder.report([], 0);
    expect(report.sent).toEqual({ '2:video:0': 4, '2:video:2': 6 });
    expect(report.downlinks.find((d) => d.receiver === 1)).toMatchObject({ received: 10, layers: [4, 0, 6] });
    recorder.setWindow(1000, 2000);
    expect(recorder.report([], 0).downlinks.find((d) => d.receiver === 1)).toMatchObject({ received: 0, layers: [] });
  });
});
