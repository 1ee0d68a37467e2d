import type { Cell } from './gridLayout.js';

export interface CompositorPipelineSpec {
  width: number;
  height: number;
  frameRate: number;
  /** VP8 target bitrate, bits/s. */
  bitrate: number;
  /** Frames between forced keyframes. */
  keyframeDistance: number;
  /** SSRC of the composed stream (a new one per child, so its packets are told apart). */
  ssrc: number;
  /** Local UDP port the composed RTP is sent to. */
  outputPort: number;
  /** Local UDP port the child takes RTCP on: a PLI or FIR there makes the encoder send a keyframe. */
  rtcpPort: number;
  /** One local UDP port per tile, where that tile's VP8 RTP arrives. */
  inputs: Array<{ port: number; cell: Cell }>;
  /** RTP payload type used on the local legs. */
  payloadType: number;
}

/** The inputs' jitter buffer, ms. */
export const INPUT_LATENCY_MS = 100;
/** What the compositor waits for late tiles on top of INPUT_LATENCY_MS, ms. */
export const MIX_LATENCY_MS = 300;

const INPUT_CAPS = (pt: number): string => `application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=${pt}`;

/**
 * gst-launch-1.0 arguments of the video mix: a black live background drives the clock
 * (so output never waits for an input), each input is depayloaded, decoded, scaled into
 * its tile (letterboxed) and composed; the result is encoded once in VP8 and sent as RTP
 * to `outputPort`. `ignore-inactive-pads` keeps a silent or frozen input from holding
 * the compositor back. The payloader feeds an rtpbin whose RTCP input listens on
 * `rtcpPort`: a PLI/FIR for `ssrc` arriving there becomes a force-key-unit request to
 * the encoder, so receivers' keyframe requests reach it.
 */
export function compositorPipeline(spec: CompositorPipelineSpec): string[] {
  const raw = `video/x-raw,format=I420,width=${spec.width},height=${spec.height},framerate=${spec.frameRate}/1`;
  // rtpbin first: the payloader links into it, and its sometimes pads appear later.
  const args: string[] = ['-q', 'rtpbin', 'name=rtpbin'];
  args.push('videotestsrc', 'is-live=true', 'pattern=black', '!', raw, '!', 'mix.sink_0');
  // start-time-selection=first: with the default (zero) the compositor sometimes never
  // produced a frame when started (measured: 5 of 20 starts; 0 of 24 with 'first').
  // latency: how long the grid waits for a tile's frame beyond the inputs' own latency.
  // A decoder starved of CPU on a busy machine delivers late; without the wait its
  // frames all came after their grid went out and the tile stayed black.
  args.push('compositor', 'name=mix', 'background=black', 'ignore-inactive-pads=true', 'start-time-selection=first', `latency=${String(MIX_LATENCY_MS * 1_000_000)}`, 'sink_0::zorder=0');
  spec.inputs.forEach(({ cell }, i) => {
    const pad = `sink_${i + 1}`;
    args.push(`${pad}::xpos=${cell.x}`, `${pad}::ypos=${cell.y}`, `${pad}::zorder=${i + 1}`);
  });
  args.push(
    'mix.', '!', raw, '!',
    'vp8enc', 'deadline=1', 'cpu-used=8', 'threads=1', 'lag-in-frames=0', 'end-usage=cbr',
    `target-bitrate=${spec.bitrate}`, `keyframe-max-dist=${spec.keyframeDistance}`, 'error-resilient=default', '!',
    'rtpvp8pay', `pt=${spec.payloadType}`, `ssrc=${spec.ssrc}`, 'mtu=1200', 'picture-id-mode=15-bit', '!', 'rtpbin.send_rtp_sink_0',
    'rtpbin.send_rtp_src_0', '!', 'udpsink', 'host=127.0.0.1', `port=${spec.outputPort}`, 'sync=false', 'async=false',
    'rtpbin.send_rtcp_src_0', '!', 'fakesink', 'sync=false', 'async=false',
    'udpsrc', 'address=127.0.0.1', `port=${spec.rtcpPort}`, 'caps=application/x-rtcp', '!', 'rtpbin.recv_rtcp_sink_0',
  );
  spec.inputs.forEach(({ port, cell }, i) => {
    args.push(
      'udpsrc', 'address=127.0.0.1', `port=${port}`, `caps=${INPUT_CAPS(spec.payloadType)}`, '!',
      'rtpjitterbuffer', `latency=${String(INPUT_LATENCY_MS)}`, '!', 'rtpvp8depay', '!', 'vp8dec', '!', 'videoconvert', '!',
      'videoscale', 'add-borders=true', '!', `video/x-raw,format=I420,width=${cell.width},height=${cell.height},pixel-aspect-ratio=1/1`, '!',
      `mix.sink_${i + 1}`,
    );
  });
  return args;
}
