import { describe, expect, it } from 'vitest';
import { gridLayout, gridShape } from './gridLayout.js';
import { compositorPipeline } from './gstPipeline.js';

describe('gridLayout', () => {
  it('uses 1, 2x1, 2x2 and 3x3 grids by count', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => gridShape(n))).toEqual([
      { columns: 1, rows: 1 },
      { columns: 2, rows: 1 },
      { columns: 2, rows: 2 },
      { columns: 2, rows: 2 },
      { columns: 3, rows: 3 },
      { columns: 3, rows: 3 },
    ]);
  });

  it('tiles the frame row by row with even sizes, at most 9 tiles', () => {
    expect(gridLayout(3, 640, 480)).toEqual([
      { x: 0, y: 0, width: 320, height: 240 },
      { x: 320, y: 0, width: 320, height: 240 },
      { x: 0, y: 240, width: 320, height: 240 },
    ]);
    const nine = gridLayout(12, 640, 360);
    expect(nine).toHaveLength(9);
    expect(nine[8]).toEqual({ x: 424, y: 240, width: 212, height: 120 });
  });

  it('builds one gst-launch input branch per tile into the compositor, and one VP8 output', () => {
    const args = compositorPipeline({
      width: 640, height: 480, frameRate: 15, bitrate: 500000, keyframeDistance: 15, ssrc: 7, outputPort: 56100, rtcpPort: 56103, payloadType: 96,
      inputs: gridLayout(2, 640, 480).map((cell, i) => ({ port: 56101 + i, cell })),
    });
    expect(args.filter((a) => a === 'udpsrc')).toHaveLength(3); // two tiles and RTCP in
    expect(args).toContain('sink_2::xpos=320');
    expect(args).toContain('port=56102');
    expect(args).toContain('keyframe-max-dist=15');
    expect(args.filter((a) => a === 'vp8enc')).toHaveLength(1);
    expect(args).toContain('rtpbin.recv_rtcp_sink_0');
  });
});
