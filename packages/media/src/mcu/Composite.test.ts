import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { HubPort } from '../core/HubPort.js';
import { useMediaHarness, until } from '../testing/harness.js';
import { ProbeSource } from '../testing/probes.js';
import { decodeVp8, McuTestPeer, meanColor } from '../testing/mcu.js';
import { negotiate } from '../testing/signal.js';
import { waitForConnected } from '../testing/peers.js';
import { isVp8Keyframe } from '../rtp/keyframe.js';
import { liveChildPids } from './ChildProcesses.js';
import type { Composite } from './Composite.js';

const h = useMediaHarness([56000, 56199]);
const TONES = [440, 660, 990];

interface Member {
  peer: McuTestPeer;
  port: HubPort;
}

/** A werift peer joined to `composite` through a WebRtcEndpoint and a HubPort, both ways. */
async function join(p: MediaPipeline, composite: Composite, options: ConstructorParameters<typeof McuTestPeer>[0]): Promise<Member> {
  const pc = h.peer();
  const peer = h.track(new McuTestPeer(options));
  peer.attach(pc);
  const ep = p.createWebRtcEndpoint();
  const port = composite.createHubPort();
  ep.connect(port);
  port.connect(ep);
  await negotiate(pc, ep);
  await waitForConnected(pc);
  await peer.start();
  return { peer, port };
}

/** True when `peer` hears every tone of `present` clearly and none of `absent`. */
function hears(peer: McuTestPeer, present: number[], absent: number[]): boolean {
  const levels = peer.levels([...present, ...absent]);
  return present.every((f) => levels.get(f)! > 1500) && absent.every((f) => levels.get(f)! < 300);
}

/** until() for the video tests; on timeout the error says what the grid and the peers did. */
async function untilVideo(composite: Composite, check: () => boolean, members: Member[]): Promise<void> {
  try {
    await until(check, 30_000);
  } catch {
    const received = members.map((m) => m.peer.receivedVideo.length);
    throw new Error(`video condition not met in 30 s: stats ${JSON.stringify(composite.getStats())}, tiles ${composite.videoTiles.length}, video packets received ${received.join(', ')}`);
  }
}

const pidGone = (pid: number): boolean => !existsSync(`/proc/${pid}`) || /\) Z /.test(readStat(pid));
function readStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return ') Z ';
  }
}

afterAll(async () => {
  // Every child (video mix, test video senders) is gone once everything is closed.
  await until(() => liveChildPids().length === 0, 10_000);
});

describe('Composite audio', () => {
  it('sends each port the mix of the others: the FFT of what each peer hears shows the two other tones, not its own', async () => {
    const p = h.pipeline();
    const composite = p.createComposite({ video: false });
    const members = await Promise.all(TONES.map((frequency) => join(p, composite, { frequency })));

    await until(() => members.every((m, i) => hears(m.peer, TONES.filter((_, j) => j !== i), [TONES[i]!])), 20_000);

    const levels = members[0]!.peer.levels(TONES);
    expect(levels.get(660)!).toBeGreaterThan(1500);
    expect(levels.get(990)!).toBeGreaterThan(1500);
    expect(levels.get(440)!).toBeLessThan(300);
    // The mix runs on the mixer's clock: one frame per port per tick, so every frame a
    // peer decoded came from a tick (how many ticks passed is a matter of time, not checked).
    const ticks = composite.getStats().audio.ticks;
    for (const m of members) expect(ticks).toBeGreaterThanOrEqual(m.peer.receivedPcm.length);
    expect(composite.videoChildPid).toBeUndefined();
  });

  it('a silent port does not stall the mix, and ports joining and leaving change what the others hear', async () => {
    const p = h.pipeline();
    const composite = p.createComposite({ video: false });
    const a = await join(p, composite, { frequency: 440 });
    const b = await join(p, composite, { frequency: 660 });
    b.peer.silent = true;
    // A port with no media at all: nobody sends into it.
    const idle = composite.createHubPort();

    await until(() => a.peer.receivedPcm.length > 50);
    const ticks = composite.getStats().audio.ticks;
    await until(() => composite.getStats().audio.ticks > ticks + 25);
    await until(() => hears(b.peer, [440], [660]));

    b.peer.silent = false;
    await until(() => hears(a.peer, [660], [440]));
    const c = await join(p, composite, { frequency: 990 });
    await until(() => hears(a.peer, [660, 990], [440]) && hears(c.peer, [440, 660], [990]), 20_000);

    b.port.close();
    await until(() => hears(a.peer, [990], [440, 660]) && hears(c.peer, [440], [660, 990]), 20_000);
    idle.close();
    expect(composite.getPorts()).toEqual([a.port, c.port]);
  });

  it('connecting an element of another pipeline to a port is refused with INVALID_ARGUMENT', () => {
    const p1 = h.pipeline();
    const p2 = h.pipeline();
    const port = p1.createComposite({ video: false }).createHubPort();
    const ep = p2.createWebRtcEndpoint();

    expect(() => ep.connect(port)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('another pipeline') }));
    expect(() => port.connect(ep)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(port.getSourceConnections()).toEqual([]);
  });
});

describe('Composite video (GStreamer child)', () => {
  const COLORS = ['red', 'green', 'blue'] as const;
  const RGB = { red: [255, 0, 0], green: [0, 255, 0], blue: [0, 0, 255] } as const;

  it('composes every port into one VP8 grid of the configured size, keeps going when a port freezes, relayouts on leave, and leaves no child process', async () => {
    const p = h.pipeline();
    const composite = p.createComposite({ video: { width: 320, height: 240, frameRate: 15 } });
    const members = await Promise.all(COLORS.map((color, i) => join(p, composite, { frequency: TONES[i]!, video: { port: 56900 + i, color } })));

    await untilVideo(composite, () => composite.videoTiles.length === 3 && members.every((m) => m.peer.receivedVideo.length > 60), members);
    const firstPid = composite.videoChildPid!;
    expect(firstPid).toBeGreaterThan(0);
    // Let every tile decode a keyframe, then look at what peer 0 sees.
    const mark = members[0]!.peer.receivedVideo.length;
    await until(() => members[0]!.peer.receivedVideo.length > mark + 60, 30_000);
    const video = await decodeVp8(members[0]!.peer.receivedVideo);
    expect([video.width, video.height]).toEqual([320, 240]);
    expect(video.frames.length).toBeGreaterThan(5);
    const last = video.frames.at(-1)!;
    const centres = [
      [80, 60],
      [240, 60],
      [80, 180],
    ] as const;
    composite.videoTiles.forEach((port, tile) => {
      const color = COLORS[members.findIndex((m) => m.port === port)]!;
      const [r, g, b] = meanColor(last, video.width, centres[tile]![0], centres[tile]![1]);
      const want = RGB[color];
      expect(Math.abs(r - want[0]) + Math.abs(g - want[1]) + Math.abs(b - want[2]), `tile ${tile} should be ${color}`).toBeLessThan(120);
    });
    // The fourth tile of the 2x2 grid is background: black.
    expect(meanColor(last, video.width, 240, 180).reduce((x, y) => x + y)).toBeLessThan(60);

    // A frozen port (its video stops) does not stop the grid.
    await members[2]!.peer.stopVideo();
    const before = members[0]!.peer.receivedVideo.length;
    await until(() => members[0]!.peer.receivedVideo.length > before + 40, 20_000);
    expect(composite.videoChildPid).toBe(firstPid);

    // A port leaving: the child restarts with a 2x1 layout, receivers keep getting video.
    members[1]!.port.close();
    await until(() => composite.videoTiles.length === 2 && composite.videoChildPid !== firstPid, 20_000);
    const after = members[0]!.peer.receivedVideo.length;
    await until(() => members[0]!.peer.receivedVideo.length > after + 40, 20_000);
    expect(pidGone(firstPid)).toBe(true);

    const pid = composite.videoChildPid!;
    composite.close();
    await composite.whenStopped();
    expect(pidGone(pid)).toBe(true);
    expect(liveChildPids().filter((x) => x === pid || x === firstPid)).toEqual([]);
  });

  it("a receiver's keyframe request reaches the encoder in the child (RTCP PLI), not only the forced interval", async () => {
    const p = h.pipeline();
    const composite = p.createComposite({ video: { width: 320, height: 240, frameRate: 15, keyframeIntervalMs: 600_000 } });
    const a = await join(p, composite, { frequency: 440, video: { port: 56920, color: 'green' } });
    const keyframes = (): number => a.peer.receivedVideo.filter((x) => isVp8Keyframe(x.payload)).length;
    await until(() => keyframes() >= 1 && a.peer.receivedVideo.length > 30, 30_000);
    // Past the start, with a 10-minute forced interval no keyframe comes unasked.
    await until(() => a.peer.receivedVideo.length > 60, 30_000);
    const before = keyframes();

    a.port.requestKeyframe('video');

    await until(() => keyframes() > before, 20_000);
    expect(composite.getStats().video!.keyframeRequests).toBeGreaterThanOrEqual(1);
  });

  it('a child that hangs at start (sends nothing) is killed after startTimeoutMs and started again', async () => {
    const dir = mkdtempSync(joinPath(tmpdir(), 'roundtable-mcu-'));
    h.track({ close: () => rmSync(dir, { recursive: true, force: true }) });
    const hanging = joinPath(dir, 'hanging-gst-launch');
    writeFileSync(hanging, '#!/bin/sh\nexec sleep 60\n');
    chmodSync(hanging, 0o755);
    const p = h.pipeline();
    const composite = p.createComposite({ video: { gstLaunch: hanging, startTimeoutMs: 500, relayoutDelayMs: 10 } });
    const source = h.track(new ProbeSource(p, 1));
    source.connect(composite.createHubPort());

    source.send('video');

    await until(() => composite.getStats().video!.crashes >= 1 && composite.getStats().video!.starts >= 2, 20_000);
    const pid = composite.videoChildPid!;
    p.close();
    await composite.whenStopped();
    expect(pidGone(pid)).toBe(true);
  });

  it('a crashed child is restarted and the grid comes back', async () => {
    const p = h.pipeline();
    const composite = p.createComposite({ video: { width: 320, height: 240, frameRate: 15 } });
    const a = await join(p, composite, { frequency: 440, video: { port: 56910, color: 'red' } });
    await untilVideo(composite, () => composite.videoChildPid !== undefined && a.peer.receivedVideo.length > 30, [a]);
    const pid = composite.videoChildPid!;

    process.kill(pid, 'SIGKILL');
    await until(() => composite.getStats().video!.crashes === 1 && composite.videoChildPid !== undefined && composite.videoChildPid !== pid, 20_000);
    const count = a.peer.receivedVideo.length;
    await until(() => a.peer.receivedVideo.length > count + 30, 20_000);

    const newPid = composite.videoChildPid!;
    p.close();
    await composite.whenStopped();
    expect(pidGone(newPid)).toBe(true);
  });
});
