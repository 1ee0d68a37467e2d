import { RTCPeerConnection, RtcpPayloadSpecificFeedback, RtpHeader, useSdesMid, useSdesRTPStreamId, type RTCDtlsTransport, type RtcpPacket } from 'werift';
import type { PlannedPacket, SimulcastLayer } from '../traffic.js';
import { UplinkTracks, createPeer } from './weriftPeer.js';

const MID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:mid';
const RID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
/** RTCP payload-specific feedback formats (RFC 4585 §6.3, RFC 5104 §4.3.1). */
const PLI = 1;
const FIR = 4;

/**
 * A werift peer on the bench's address only, offering the MID and RID header extensions
 * (simulcast needs both). The MID extension has one id on every m-line, as Chromium's:
 * werift numbers the audio and video lists one after the other (the same object gets the
 * last number), and Janus reads the MID of every m-line with the first m-line's id.
 */
export function createSimulcastPeer(host: string, stunUrl: string): RTCPeerConnection {
  const mid = useSdesMid();
  return createPeer(host, stunUrl, { headerExtensions: { audio: [mid], video: [mid, useSdesRTPStreamId()] } });
}

/** What the answer accepted for the video m-line. */
interface Negotiated {
  mid: string;
  payloadType: number;
  midExtensionId: number;
  ridExtensionId: number;
}

/**
 * A simulcast uplink as Chromium sends it: audio on its track, video as one RTP stream
 * per layer (rid q/h/f, an SSRC each that the SDP does not name), every packet carrying
 * the MID and RID header extensions (Chromium sends them until the server's reports come;
 * always here), offered with `a=rid:<rid> send` and `a=simulcast:send q;h;f`.
 *
 * werift sends only one stream per m-line (its sender overwrites the SSRC), so the layers
 * go straight to the DTLS transport (werift's SRTP) with headers written here; a PLI or FIR
 * for a layer's SSRC (which werift's RTCP routing does not know) is caught on the
 * transport. The layers send no RTCP of their own and answer no NACKs (on loopback, next
 * to nothing is lost; the server's own NACKs still cost it what they cost).
 */
export class SimulcastUplink {
  private readonly tracks = new UplinkTracks();
  private readonly ssrcs: number[];
  private readonly seq: number[];
  private readonly baseTs: number[];
  private readonly startMs = performance.now();
  private readonly frameTs: number[];
  private negotiated: Negotiated | undefined;
  private dtls: RTCDtlsTransport | undefined;
  /** Layer extension payloads: written once. */
  private readonly ridPayloads: Buffer[];
  private midPayload = Buffer.alloc(0);

  constructor(private readonly layers: readonly SimulcastLayer[]) {
    this.ssrcs = layers.map(() => (Math.floor(Math.random() * 0xfffffff0) + 1) >>> 0);
    this.seq = layers.map(() => Math.floor(Math.random() * 60000));
    this.baseTs = layers.map(() => Math.floor(Math.random() * 1e9));
    this.frameTs = layers.map(() => 0);
    this.ridPayloads = layers.map((l) => Buffer.from(l.rid, 'latin1'));
  }

  /** Adds the audio and the simulcast video transceivers; `onPli(layer)` on a keyframe request for a layer (undefined: for every layer). */
  attach(pc: RTCPeerConnection, onPli: (layer?: number) => void): void {
    pc.addTransceiver(this.tracks.audio, { direction: 'sendonly' });
    pc.addTransceiver(this.tracks.video, { direction: 'sendonly', simulcast: this.layers.map((l) => ({ rid: l.rid, direction: 'send' as const })) });
    pc.connectionStateChange.subscribe((state) => {
      if (state !== 'connected' || this.dtls) return;
      const dtls = pc.dtlsTransports[0];
      if (!dtls) return;
      this.dtls = dtls;
      dtls.onRtcp.subscribe((packet: RtcpPacket) => {
        if (packet.type !== RtcpPayloadSpecificFeedback.type) return;
        const feedback = (packet as RtcpPayloadSpecificFeedback).feedback as { count: number; mediaSsrc?: number; fir?: Array<{ ssrc: number }> };
        if (feedback.count === PLI) {
          const layer = this.ssrcs.indexOf(feedback.mediaSsrc ?? -1);
          if (layer >= 0) onPli(layer);
        } else if (feedback.count === FIR) {
          onPli(undefined);
        }
      });
    });
  }

  /**
   * The offer as Chromium makes it: werift names its video sender's own SSRC (and RTX's) in
   * the video m-line, which the layers do not use; Chromium's simulcast m-line names none
   * (each layer is known by its RID).
   */
  static offer(sdp: string): string {
    const [head, ...sections] = sdp.split(/\r\n(?=m=)/);
    return [head, ...sections.map((section) => (section.startsWith('m=video') ? section.split('\r\n').filter((line) => !/^a=ssrc(-group)?:/.test(line)).join('\r\n') : section))].join('\r\n');
  }

  /** Reads what the server's answer accepted: the video m-line's mid, payload type and extension ids. Error when it took no simulcast. */
  accept(answer: string): void {
    const video = answer.split(/\r?\nm=/).find((section) => section.startsWith('video') || section.startsWith('m=video'));
    if (!video) throw new Error('the publish answer has no video m-line');
    const mid = /^a=mid:(\S+)/m.exec(video)?.[1];
    const payloadType = Number(/^(?:m=)?video \d+ \S+ (\d+)/.exec(video)?.[1]);
    const extension = (uri: string): number | undefined => {
      const m = new RegExp(`^a=extmap:(\\d+)(?:/\\S+)? ${uri.replace(/[.:]/g, '\\$&')}\\s*$`, 'm').exec(video);
      return m ? Number(m[1]) : undefined;
    };
    const midExtensionId = extension(MID_EXTENSION);
    const ridExtensionId = extension(RID_EXTENSION);
    if (!/^a=simulcast:recv /m.test(video) || mid === undefined || midExtensionId === undefined || ridExtensionId === undefined || !Number.isInteger(payloadType)) {
      throw new Error('the server did not accept the simulcast offer (no a=simulcast:recv, mid or RID extension in its answer)');
    }
    this.negotiated = { mid, payloadType, midExtensionId, ridExtensionId };
    this.midPayload = Buffer.from(mid, 'latin1');
  }

  send(planned: PlannedPacket, payload: Buffer): void {
    if (planned.kind === 'audio' || !planned.layer) {
      this.tracks.send(planned, payload);
      return;
    }
    const n = this.negotiated;
    const dtls = this.dtls;
    if (!n || !dtls || dtls.state !== 'connected') return;
    const i = planned.layer.index;
    if (planned.frameStart) this.frameTs[i] = (this.baseTs[i]! + Math.floor((performance.now() - this.startMs) * 90)) >>> 0;
    const header = new RtpHeader({
      sequenceNumber: this.seq[i]!,
      timestamp: this.frameTs[i]!,
      marker: planned.marker,
      payloadType: n.payloadType,
      ssrc: this.ssrcs[i]!,
      extensions: [
        { id: n.midExtensionId, payload: this.midPayload },
        { id: n.ridExtensionId, payload: this.ridPayloads[i]! },
      ].sort((a, b) => a.id - b.id),
    });
    this.seq[i] = (this.seq[i]! + 1) & 0xffff;
    void dtls.sendRtp(payload, header);
  }
}
