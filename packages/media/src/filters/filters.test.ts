import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MediaError } from '../core/errors.js';
import { createOpusCoder } from '../mcu/opus.js';
import { isH264Keyframe, isVp8Keyframe } from '../rtp/keyframe.js';
import { colorShare } from '../testing/faceClip.js';
import { audioOf, lastFrames, QR_TEXT, useFilterFixtures, videoOf } from '../testing/filterFixtures.js';
import { until } from '../testing/harness.js';
import { toneAmplitude } from '../testing/mcu.js';
import { ProbeSink, ProbeSource } from '../testing/probes.js';

const f = useFilterFixtures([62900, 63029]);
const { h, clips } = f;
const play = f.play.bind(f);

describe.skipIf(!f.tools)('filters', () => {
  it('ZBarFilter reads the QR code of a video and raises codeFound with its type and value, once per second at most', async () => {
    const p = h.pipeline();
    const zbar = await p.createZBarFilter();
    const found: Array<[string, string, number]> = [];
    zbar.on('codeFound', (type, value) => found.push([type, value, performance.now()]));
    const sink = await play(p, clips.qr, zbar);
    await until(() => found.length >= 2, 20_000);
    expect(found[0]!.slice(0, 2)).toEqual(['QR-Code', QR_TEXT]);
    // The same code again only after a second of stream time.
    for (let i = 1; i < found.length; i++) expect(found[i]![2] - found[i - 1]![2]).toBeGreaterThan(700);
    await until(() => videoOf(sink).length > 20 && audioOf(sink).length > 20);
    // Audio passes untouched: the sink gets the player's own audio stream.
    expect(audioOf(sink)[0]!.stream.codec.mimeType).toBe('audio/opus');
    expect(zbar.getFilterStats().video!.outputPackets).toBeGreaterThan(0);
  }, 40_000);

  it('a filter takes H.264 too: ZBarFilter reads the code of video transcoded to H.264 upstream', async () => {
    const p = h.pipeline();
    const pass = p.createPassThrough();
    pass.setVideoFormat({ codec: 'H264' });
    const zbar = await p.createZBarFilter();
    const found: string[] = [];
    zbar.on('codeFound', (_type, value) => found.push(value));
    pass.connect(zbar);
    const sink = h.track(new ProbeSink(p));
    zbar.connect(sink);
    const player = p.createPlayerEndpoint({ uri: pathToFileURL(clips.qr).href, useEncodedMedia: true });
    player.connect(pass);
    await player.play();
    await until(() => found.length >= 1 && videoOf(sink).length > 10, 25_000);
    expect(found[0]).toBe(QR_TEXT);
    expect(sink.received.find((r) => r.stream.kind === 'video')!.stream.codec.mimeType).toBe('video/H264');
  }, 40_000);

  it('a filter asks its source for a keyframe to start, and passes its sinks\' keyframe requests to its encoder', async () => {
    const p = h.pipeline();
    const source = h.track(new ProbeSource(p, 7));
    const flip = await p.createGStreamerFilter({ command: 'videoflip video-direction=horiz', filterType: 'VIDEO' });
    source.connect(flip);
    const before = source.keyframeRequests.video;
    // Not a keyframe: the child starts, and then wants one from upstream.
    source.send('video', false);
    await until(() => flip.isFiltering('video'), 10_000);
    source.send('video', false);
    await until(() => source.keyframeRequests.video > before, 10_000);
    // Real video: a sink's request reaches the child's encoder as a PLI, and a keyframe follows.
    const q = h.pipeline();
    const filter = await q.createGStreamerFilter({ command: 'videobalance saturation=0' });
    const sink = await play(q, clips.face, filter);
    await until(() => videoOf(sink).length > 20, 20_000);
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 1200));
      const from = sink.received.length;
      const requests = filter.getFilterStats().video!.keyframeRequests;
      filter.requestKeyframe('video');
      expect(filter.getFilterStats().video!.keyframeRequests).toBe(requests + 1);
      await until(() => sink.received.slice(from).some((r) => r.stream.kind === 'video' && isVp8Keyframe(r.packet.payload)), 1000);
    }
  }, 40_000);

  it('a crashed filter child is started again and the output goes on; closing the pipeline ends it', async () => {
    const p = h.pipeline();
    const filter = await p.createGStreamerFilter({ command: 'videobalance brightness=0.1' });
    const sink = await play(p, clips.face, filter);
    await until(() => videoOf(sink).length > 20, 20_000);
    const guard = filter.childPid('video')!;
    const gst = childNamed(guard, 'gst-launch-1.0')!;
    expect(gst).toBeGreaterThan(0);
    process.kill(gst, 'SIGKILL');
    await until(() => filter.getFilterStats().video!.crashes === 1, 10_000);
    const after = videoOf(sink).length;
    await until(() => filter.isFiltering('video') && videoOf(sink).length > after + 20, 15_000);
    expect(filter.getFilterStats().video!.starts).toBe(2);
    const current = filter.childPid('video')!;
    p.close();
    await until(() => !existsSync(`/proc/${current}`) || /\) Z /.test(readFileSync(`/proc/${current}/stat`, 'utf8')), 5000);
  }, 40_000);

  it('GStreamerFilter runs a video element (videoflip): the output is the input mirrored, and decodable', async () => {
    const p = h.pipeline();
    const flip = await p.createGStreamerFilter({ command: 'videoflip method=horizontal-flip', filterType: 'VIDEO' });
    expect(flip.kind).toBe('video');
    const sink = await play(p, clips.bars, flip);
    await until(() => videoOf(sink).length > 30, 20_000);
    const video = await lastFrames(sink);
    // SMPTE bars: white on the left, blue on the right; mirrored, blue is on the left.
    for (const frame of video.frames) {
      expect(colorShare(frame, video.width, { x: 5, y: 20, width: 30, height: 100 }, [0, 0, 255], 90)).toBeGreaterThan(0.8);
      expect(colorShare(frame, video.width, { x: 285, y: 20, width: 30, height: 100 }, [255, 255, 255], 90)).toBeGreaterThan(0.8);
    }
  }, 40_000);

  it('GStreamerFilter with an audio element (volume) filters the audio and passes the video untouched', async () => {
    const p = h.pipeline();
    const quiet = await p.createGStreamerFilter({ command: 'volume volume=0.05', filterType: 'AUTODETECT' });
    expect(quiet.kind).toBe('audio');
    const player = p.createPlayerEndpoint({ uri: pathToFileURL(clips.bars).href, useEncodedMedia: true });
    const direct = h.track(new ProbeSink(p));
    const filtered = h.track(new ProbeSink(p));
    player.connect(direct);
    player.connect(quiet);
    quiet.connect(filtered);
    await player.play();
    await until(() => audioOf(filtered).length > 100 && audioOf(direct).length > 100, 20_000);
    const level = (sink: ProbeSink): number => {
      const coder = createOpusCoder(2);
      const pcm = audioOf(sink).slice(-50).map((r) => coder.decode(r.packet.payload));
      const joined = new Int16Array(pcm.reduce((n, a) => n + a.length, 0));
      let o = 0;
      for (const a of pcm) {
        joined.set(a, o);
        o += a.length;
      }
      const mono = joined.filter((_, i) => i % 2 === 0);
      return toneAmplitude(mono, 440);
    };
    const loud = level(direct);
    const soft = level(filtered);
    expect(loud).toBeGreaterThan(1000);
    expect(soft).toBeGreaterThan(loud * 0.02);
    expect(soft).toBeLessThan(loud * 0.1);
    const video = filtered.received.find((r) => r.stream.kind === 'video');
    expect(video?.stream).toBe(direct.received.find((r) => r.stream.kind === 'video')?.stream);
  }, 40_000);

  it('a GStreamerFilter command that does not make one usable element is refused at create, and nothing is created', async () => {
    const p = h.pipeline();
    const refused = async (command: string, filterType: 'AUDIO' | 'VIDEO' | 'AUTODETECT' = 'AUTODETECT'): Promise<string> => {
      const error = await p.createGStreamerFilter({ command, filterType }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(MediaError);
      expect((error as MediaError).code).toBe('INVALID_FILTER_COMMAND');
      return (error as MediaError).message;
    };
    expect(await refused('nosuchelement')).toBe('GStreamer element cannot be created: no element "nosuchelement"');
    expect(await refused('videoflip ! videobalance')).toBe('Given command is not valid, only one element can be created');
    expect(await refused('videoflip videobalance')).toBe('Given command is not valid, only one element can be created');
    expect(await refused('videoflip nosuchproperty=1')).toBe('GStreamer element cannot be created: no property "nosuchproperty" in element "videoflip"');
    expect(await refused('videoflip method=sideways')).toMatch(/^GStreamer element cannot be created: .*method/);
    expect(await refused('volume volume=0.5', 'VIDEO')).toBe("Given command is not valid, pad templates don't match");
    expect(await refused('fakesink')).toBe("Given command is not valid, pad templates don't match");
    expect(await refused('')).toMatch(/^GStreamer element cannot be created/);
    expect(p.getElements()).toEqual([]);
  }, 40_000);

  it('a filter whose GStreamer elements this machine lacks is refused at create with FILTER_UNAVAILABLE', async () => {
    const p = h.pipeline();
    // gst-inspect-1.0 answering "no such element" for everything, as on a machine without the plugins.
    const options = { gstInspect: '/bin/false' };
    await expect(p.createZBarFilter(options)).rejects.toMatchObject({ code: 'FILTER_UNAVAILABLE', message: expect.stringContaining('zbar') });
    await expect(p.createFaceOverlayFilter(options)).rejects.toMatchObject({ code: 'FILTER_UNAVAILABLE', message: expect.stringContaining('facedetect') });
    await expect(p.createImageOverlayFilter(options)).rejects.toMatchObject({ code: 'FILTER_UNAVAILABLE', message: expect.stringContaining('rsvgoverlay') });
    expect(p.getElements()).toEqual([]);
  });

  it('setVideoFormat and setAudioFormat transcode an element\'s output (VP8 to H.264, Opus to PCMU) and report it', async () => {
    const p = h.pipeline();
    const pass = p.createPassThrough();
    const states: Array<[string, boolean]> = [];
    pass.on('mediaTranscoding', (kind, on) => states.push([kind, on]));
    pass.setVideoFormat({ codec: 'H264', frameRate: { numerator: 10, denominator: 1 } });
    pass.setAudioFormat({ codec: 'PCMU', bitrate: 64000 });
    expect(() => pass.setVideoFormat({ codec: 'H265' as 'H264' })).toThrow(MediaError);
    const sink = await play(p, clips.bars, pass);
    await until(() => pass.isMediaTranscoding('video') && pass.isMediaTranscoding('audio') && audioOf(sink).length > 60, 20_000);
    expect(states).toEqual(expect.arrayContaining([['video', true], ['audio', true]]));
    const video = sink.received.filter((r) => r.stream.kind === 'video');
    expect(video.every((r) => r.stream.codec.mimeType === 'video/H264')).toBe(true);
    expect(video.some((r) => isH264Keyframe(r.packet.payload))).toBe(true);
    const audio = audioOf(sink);
    expect(audio.every((r) => r.stream.codec.mimeType === 'audio/PCMU')).toBe(true);
    const pcm = Int16Array.from(Buffer.concat(audio.slice(-50).map((r) => r.packet.payload)), ulawToLinear);
    expect(toneAmplitude(pcm, 440, 8000)).toBeGreaterThan(1000);
    pass.setVideoFormat({ codec: 'RAW' });
    expect(pass.isMediaTranscoding('video')).toBe(false);
    expect(states).toContainEqual(['video', false]);
  }, 40_000);

  it('a filter whose child keeps failing on the real media raises error', async () => {
    const p = h.pipeline();
    // Passes the check on 64x48 test frames, cannot take the clip's 320x240.
    const filter = await p.createGStreamerFilter({ command: 'capsfilter caps=video/x-raw,width=64,height=48', filterType: 'VIDEO', maxRestarts: 1 });
    const errors: MediaError[] = [];
    filter.on('error', (e) => errors.push(e));
    await play(p, clips.bars, filter);
    await until(() => errors.length > 0, 20_000);
    expect(errors[0]!.message).toMatch(/^GStreamerFilter video processing stopped: .*not.negotiated/i);
    expect(filter.getFilterStats().video!.crashes).toBe(1);
  }, 30_000);
});

/** Pid of the child of `parent` whose command is `name` (from /proc, as procps may be missing). */
function childNamed(parent: number, name: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && comm === name) return Number(entry);
    } catch {
      // The process ended meanwhile.
    }
  }
  return undefined;
}

function ulawToLinear(u: number): number {
  const x = ~u & 0xff;
  const t = (((x & 0x0f) << 3) + 0x84) << ((x & 0x70) >> 4);
  return x & 0x80 ? 0x84 - t : t - 0x84;
}
