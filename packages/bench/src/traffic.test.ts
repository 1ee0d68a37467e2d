import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAFFIC, SIMULCAST_LAYERS, SIMULCAST_PREFIX, TrafficSchedule, readPayload, writePayload, type PlannedPacket } from './traffic.js';

const SIMULCAST = { ...DEFAULT_TRAFFIC, simulcast: SIMULCAST_LAYERS.map((l) => ({ ...l })) };

/** The video packets a schedule plans over `seconds`, by layer. */
function videoOver(schedule: TrafficSchedule, seconds: number): PlannedPacket[] {
  const out: PlannedPacket[] = [];
  for (let t = 0; t <= seconds * 1000; t += 5) out.push(...schedule.due(t).filter((p) => p.kind === 'video'));
  return out;
}

describe('the simulcast traffic', () => {
  it('a simulcast schedule sends every layer at its own bitrate, each starting with a keyframe', () => {
    const schedule = new TrafficSchedule(SIMULCAST, 0);
    const packets = videoOver(schedule, 6);
    for (const [i, layer] of SIMULCAST_LAYERS.entries()) {
      const mine = packets.filter((p) => p.layer?.index === i);
      expect(mine[0]!.keyframe).toBe(true);
      expect(mine[0]!.layer).toMatchObject({ picture: 0, width: layer.width, height: layer.height });
      const kbps = (mine.reduce((n, p) => n + p.size + 12, 0) * 8) / 6 / 1000;
      expect(kbps).toBeGreaterThan(layer.kbps * 0.85);
      expect(kbps).toBeLessThan(layer.kbps * 1.15);
    }
    expect(packets.every((p) => p.layer !== undefined)).toBe(true);
  });

  it('a layer the server stops is not sent, and starts again with a keyframe; a keyframe request names its layer', () => {
    const schedule = new TrafficSchedule(SIMULCAST, 0);
    videoOver(schedule, 0.1);
    schedule.setLayerActive(1, false);
    const paused = videoOver(schedule, 0.5).filter((p) => p.layer?.index === 1);
    expect(paused).toEqual([]);
    expect(schedule.activeLayers).toEqual([true, false, true]);
    schedule.setLayerActive(1, true);
    schedule.requestKeyframe(2);
    const next = schedule.due(600).filter((p) => p.frameStart);
    const first = (layer: number) => next.find((p) => p.layer?.index === layer)?.keyframe;
    expect([first(0), first(1), first(2)]).toEqual([false, true, true]);
  });

  it('a layer packet carries a VP8 descriptor as Chromium writes it (picture id, TL0PICIDX), its keyframe size, and the bench header with its layer', () => {
    const planned: PlannedPacket = { kind: 'video', size: 200, frameStart: true, keyframe: true, marker: false, layer: { index: 2, picture: 0x1234, width: 1280, height: 720 } };
    const payload = Buffer.alloc(planned.size);
    writePayload(payload, planned, 7, 42, 123.5);
    // X and S; I, L, T; M + 15-bit picture id; TL0PICIDX; the frame tag's P bit clear; the start code and size.
    expect([...payload.subarray(0, 7)]).toEqual([0x90, 0xe0, 0x92, 0x34, 0x34, 0x20, 0x00]);
    expect([...payload.subarray(9, 12)]).toEqual([0x9d, 0x01, 0x2a]);
    expect(payload.readUInt16LE(12)).toBe(1280);
    expect(payload.readUInt16LE(14)).toBe(720);
    expect(payload.readUInt16BE(SIMULCAST_PREFIX)).toBe(0x5242);
    expect(readPayload(payload)).toEqual({ kind: 'video', sender: 7, seq: 42, sendUs: 123.5, layer: 2 });

    const delta = Buffer.alloc(100);
    writePayload(delta, { ...planned, frameStart: false, keyframe: false }, 7, 43, 124);
    expect(delta[0]).toBe(0x80);
    expect(delta[6]! & 0x01).toBe(1);
    expect(readPayload(delta)?.layer).toBe(2);
  });

  it('one stream keeps its 4-byte prefix and reads with no layer', () => {
    const payload = Buffer.alloc(100);
    writePayload(payload, { kind: 'video', size: 100, frameStart: true, keyframe: true, marker: true }, 1, 2, 3);
    expect(readPayload(payload)).toEqual({ kind: 'video', sender: 1, seq: 2, sendUs: 3, layer: undefined });
  });
});
