import { describe, expect, it } from 'vitest';
import type { RTCDataChannel, RTCPeerConnection as WeriftPeerConnection } from 'werift';
import type { MediaConfig } from '../config.js';
import { MediaError } from '../core/errors.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import { until, useMediaHarness } from '../testing/harness.js';
import { waitForConnected } from '../testing/peers.js';
import { negotiate } from '../testing/signal.js';
import type { WebRtcEndpoint } from './WebRtcEndpoint.js';

const h = useMediaHarness([47500, 47599]);

/** A peer with an audio section (an offer needs one) and, optionally, a data channel. */
function peerWithChannel(label?: string): { pc: WeriftPeerConnection; channel: RTCDataChannel | undefined } {
  const pc = h.peer();
  pc.addTransceiver('audio', { direction: 'sendrecv' });
  return { pc, channel: label === undefined ? undefined : pc.createDataChannel(label) };
}

async function connect(pc: WeriftPeerConnection, ep: WebRtcEndpoint): Promise<void> {
  await negotiate(pc, ep);
  await waitForConnected(pc);
}

function messagesOf(channel: RTCDataChannel): string[] {
  const got: string[] = [];
  channel.onMessage.subscribe((data) => got.push(data.toString()));
  return got;
}

function errorOf(fn: () => unknown): MediaError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MediaError) return error;
    throw error;
  }
  throw new Error('expected a MediaError');
}

/*
 * On the packet path the environment sets (ROUNDTABLE_PACKET_CORE, else the native core
 * when it is built), and on the TypeScript path explicitly. Until the werift path was
 * removed (2026-12-08) the two runs were the configured carrier (werift by default) and
 * the own transport.
 */
const paths: Array<{ name: string; config: Partial<MediaConfig> }> = [
  { name: 'the configured packet path', config: {} },
  { name: 'the TypeScript packet path', config: { packetCore: 'typescript' } },
];

describe.each(paths)('WebRtcEndpoint data channels on $name', ({ config }) => {
  const pipeline = (): MediaPipeline => h.pipeline(config);

  it('a message on a peer channel of a data source reaches the peer of its data sink', async () => {
    const p = pipeline();
    const a = p.createWebRtcEndpoint({ useDataChannels: true });
    const b = p.createWebRtcEndpoint({ useDataChannels: true });
    a.connectData(b);
    const pa = peerWithChannel('chat');
    const pb = peerWithChannel('chat');
    const openA = a.waitFor('dataChannelOpen', 20_000);
    const openB = b.waitFor('dataChannelOpen', 20_000);
    const got = messagesOf(pb.channel!);

    await Promise.all([connect(pa.pc, a), connect(pb.pc, b)]);
    const [[idA]] = await Promise.all([openA, openB]);
    await until(() => pa.channel!.readyState === 'open' && pb.channel!.readyState === 'open');
    pa.channel!.send('hello');
    await until(() => got.length === 1);

    expect(got).toEqual(['hello']);
    expect(idA).toBe(pa.channel!.id);
    expect(a.getStats().data).toMatchObject({ channelsOpened: 1, messagesReceived: 1, bytesReceived: 5, messagesSent: 0 });
    expect(b.getStats().data).toMatchObject({ channelsOpened: 1, messagesReceived: 0, messagesSent: 1, bytesSent: 5 });
  });

  it('a data sink without a channel of the same label sends on its first open channel', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint({ useDataChannels: true });
    ep.connectData(ep);
    const { pc, channel } = peerWithChannel('first');
    const other = pc.createDataChannel('second');
    const onFirst = messagesOf(channel!);
    const onSecond = messagesOf(other);
    const opened: number[] = [];
    ep.on('dataChannelOpen', (id) => opened.push(id));

    await connect(pc, ep);
    await until(() => opened.length === 2 && channel!.readyState === 'open' && other.readyState === 'open');
    other.send('echo');
    await until(() => onSecond.length === 1);

    expect(onSecond).toEqual(['echo']);
    expect(onFirst).toEqual([]);
  });

  it('createDataChannel() opens a channel the peer receives, and fires dataChannelOpen', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint({ useDataChannels: true });
    const { pc, channel } = peerWithChannel('from-peer');
    const announced: RTCDataChannel[] = [];
    pc.onDataChannel.subscribe((c) => announced.push(c));
    const peerOpen = ep.waitFor('dataChannelOpen', 20_000);
    await connect(pc, ep);
    await peerOpen;
    await until(() => channel!.readyState === 'open');

    const serverOpen = ep.waitFor('dataChannelOpen', 20_000);
    // No retransmission limit: werift's DATA_CHANNEL_OPEN (the server's until 2026-12-08) dropped the unordered flag with one.
    ep.createDataChannel('from-server', { ordered: false, protocol: 'chat-v1' });
    const [id] = await serverOpen;
    await until(() => announced.length === 1);

    const remote = announced[0]!;
    expect(remote.label).toBe('from-server');
    expect(remote.protocol).toBe('chat-v1');
    expect(remote.ordered).toBe(false);
    expect(remote.id).toBe(id);
    expect(id).not.toBe(channel!.id);
  });

  it('closeDataChannel() closes the channel at the peer and fires dataChannelClose', async () => {
    const p = pipeline();
    const ep = p.createWebRtcEndpoint({ useDataChannels: true });
    const { pc, channel } = peerWithChannel('chat');
    const open = ep.waitFor('dataChannelOpen', 20_000);
    await connect(pc, ep);
    const [id] = await open;

    const close = ep.waitFor('dataChannelClose', 10_000);
    ep.closeDataChannel(id);
    const [closedId] = await close;
    await until(() => channel!.readyState === 'closed');

    expect(closedId).toBe(id);
    expect(ep.getStats().data.channelsClosed).toBe(1);
    expect(errorOf(() => ep.closeDataChannel(id)).code).toBe('INVALID_ARGUMENT');
  });

  it('closeDataChannel() with an unknown id throws MediaError INVALID_ARGUMENT', () => {
    const ep = pipeline().createWebRtcEndpoint({ useDataChannels: true });

    expect(errorOf(() => ep.closeDataChannel(42)).code).toBe('INVALID_ARGUMENT');
  });

  it('createDataChannel() with both maxPacketLifeTime and maxRetransmits throws INVALID_ARGUMENT', async () => {
    const ep = pipeline().createWebRtcEndpoint({ useDataChannels: true });
    const { pc } = peerWithChannel('chat');
    await negotiate(pc, ep);

    expect(errorOf(() => ep.createDataChannel('x', { maxPacketLifeTime: 100, maxRetransmits: 1 })).code).toBe('INVALID_ARGUMENT');
  });

  it('createDataChannel() without useDataChannels throws INVALID_STATE', () => {
    const ep = pipeline().createWebRtcEndpoint();

    expect(errorOf(() => ep.createDataChannel('x')).code).toBe('INVALID_STATE');
  });

  it('connectData() needs both endpoints to use data channels', () => {
    const p = pipeline();
    const withData = p.createWebRtcEndpoint({ useDataChannels: true });
    const without = p.createWebRtcEndpoint();

    expect(errorOf(() => withData.connectData(without)).code).toBe('INVALID_ARGUMENT');
  });

  it('connectData() to a sink replaces its previous data source; closing a sink disconnects it', () => {
    const p = pipeline();
    const [a, b, sink] = [0, 1, 2].map(() => p.createWebRtcEndpoint({ useDataChannels: true })) as [WebRtcEndpoint, WebRtcEndpoint, WebRtcEndpoint];

    a.connectData(sink);
    b.connectData(sink);
    expect(a.getDataSinks()).toEqual([]);
    expect(sink.getDataSource()).toBe(b);

    sink.close();
    expect(b.getDataSinks()).toEqual([]);
  });

  it('without useDataChannels the answer rejects the application section with port 0', async () => {
    const ep = pipeline().createWebRtcEndpoint();
    const { pc } = peerWithChannel('chat');
    await pc.setLocalDescription(await pc.createOffer());

    const answer = await ep.processOffer(pc.localDescription!.sdp);

    expect(answer).toMatch(/^m=application 0 UDP\/DTLS\/SCTP webrtc-datachannel\r\nc=IN IP4 0\.0\.0\.0\r\na=mid:1\r?$/m);
    expect(answer).toMatch(/^a=group:BUNDLE 0\r?$/m);
    expect(answer).not.toContain('a=sctp-port');
    expect(ep.getLocalSessionDescriptor()).toBe(answer);
  });

  it('with useDataChannels the answer accepts the application section', async () => {
    const ep = pipeline().createWebRtcEndpoint({ useDataChannels: true });
    const { pc } = peerWithChannel('chat');
    await pc.setLocalDescription(await pc.createOffer());

    const answer = await ep.processOffer(pc.localDescription!.sdp);

    expect(answer).toMatch(/^m=application 9 UDP\/DTLS\/SCTP webrtc-datachannel\r?$/m);
    expect(answer).toContain('a=sctp-port:5000');
  });

  it('generateOffer() includes an application section only with useDataChannels', async () => {
    const p = pipeline();

    const withData = await p.createWebRtcEndpoint({ useDataChannels: true }).generateOffer();
    const without = await p.createWebRtcEndpoint().generateOffer();

    expect(withData).toContain('m=application');
    expect(without).not.toContain('m=application');
  });

  it('a data channel of a generated offer opens once the peer answers', async () => {
    const ep = pipeline().createWebRtcEndpoint({ useDataChannels: true });
    const pc = h.peer();
    ep.on('iceCandidate', (c) => void pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined }));
    pc.onIceCandidate.subscribe((c) => {
      if (c) void ep.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }).catch(() => undefined);
    });
    const announced: RTCDataChannel[] = [];
    pc.onDataChannel.subscribe((c) => announced.push(c));
    await pc.setRemoteDescription({ type: 'offer', sdp: await ep.generateOffer() });
    await pc.setLocalDescription(await pc.createAnswer());
    await ep.processAnswer(pc.localDescription!.sdp);
    await ep.gatherCandidates();
    ep.createDataChannel('late', { maxRetransmits: 3 });
    const [id] = await ep.waitFor('dataChannelOpen', 20_000);

    await until(() => announced.length === 1);
    expect(announced[0]!.label).toBe('late');
    expect(announced[0]!.maxRetransmits).toBe(3);
    expect(announced[0]!.id).toBe(id);
  });
});
