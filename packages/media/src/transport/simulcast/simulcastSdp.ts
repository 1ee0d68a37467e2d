import { SdpError } from '../../core/errors.js';
import { attribute, attributes, type SdpSection } from '../transportSdp.js';

/*
 * Simulcast in SDP (RFC 8853) with RTP stream ids (RFC 8851, RFC 8852), as Chromium
 * offers it on a sending m-line:
 *
 *   a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id
 *   a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id
 *   a=rid:q send
 *   a=rid:h send
 *   a=simulcast:send q;h
 *
 * and what the answer says back (`a=rid:q recv`, `a=simulcast:recv q;h`). The SSRC of each
 * layer is not in the SDP: it is learned from the RID extension of its first packets.
 */

export const RID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
export const REPAIRED_RID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';

/** At most this many layers are taken (Roundtable selects among three). */
export const MAX_LAYERS = 3;

export interface SimulcastLayerOffer {
  rid: string;
  /** Listed with "~": the sender starts it paused. */
  paused: boolean;
}

export interface OfferedSimulcast {
  /** In the offer's order (Chromium lists the lowest resolution first when scaled down 4:2:1, but the order is the sender's). */
  layers: SimulcastLayerOffer[];
  ridExtensionId: number | undefined;
  repairedRidExtensionId: number | undefined;
}

const RID_ID = /^[A-Za-z0-9_-]{1,16}$/;

/**
 * The simulcast a client offers to send on one m-line; undefined when it offers none.
 * SdpError when `a=simulcast` names a stream without its `a=rid ... send`, or an id that
 * is not an RTP stream id.
 */
export function offeredSimulcast(section: SdpSection): OfferedSimulcast | undefined {
  const simulcast = attribute(section.attributes, 'simulcast');
  if (simulcast === undefined) return undefined;
  const m = /^send\s+(\S+)/.exec(simulcast.trim());
  if (!m) return undefined;
  const sendRids = new Set(
    attributes(section.attributes, 'rid')
      .map((r) => r.trim().split(/\s+/))
      .filter((parts) => parts[1] === 'send')
      .map((parts) => parts[0]!),
  );
  const layers: SimulcastLayerOffer[] = [];
  for (const stream of m[1]!.split(';')) {
    // Alternatives ("a,b") offer one stream in several formats: the first is taken.
    const first = stream.split(',')[0]!;
    const paused = first.startsWith('~');
    const rid = paused ? first.slice(1) : first;
    if (!RID_ID.test(rid)) throw new SdpError(`a=simulcast names '${rid.slice(0, 20)}', which is not an RTP stream id`);
    if (!sendRids.has(rid)) throw new SdpError(`a=simulcast names '${rid}' without an a=rid:${rid} send`);
    if (layers.length < MAX_LAYERS && !layers.some((l) => l.rid === rid)) layers.push({ rid, paused });
  }
  if (layers.length === 0) return undefined;
  const extension = (uri: string): number | undefined => {
    const line = attributes(section.attributes, 'extmap').find((e) => e.split(/\s+/)[1] === uri);
    const id = line === undefined ? NaN : Number(line.split(/\s+/)[0]!.split('/')[0]);
    return Number.isInteger(id) && id >= 1 && id <= 14 ? id : undefined;
  };
  return { layers, ridExtensionId: extension(RID_EXTENSION), repairedRidExtensionId: extension(REPAIRED_RID_EXTENSION) };
}

/** The answer's lines (without "a=") that accept `offered`: the RID extensions, each layer's rid, and the simulcast line. */
export function simulcastAnswerLines(offered: OfferedSimulcast): string[] {
  const lines: string[] = [];
  if (offered.ridExtensionId !== undefined) lines.push(`extmap:${offered.ridExtensionId} ${RID_EXTENSION}`);
  if (offered.repairedRidExtensionId !== undefined) lines.push(`extmap:${offered.repairedRidExtensionId} ${REPAIRED_RID_EXTENSION}`);
  for (const layer of offered.layers) lines.push(`rid:${layer.rid} recv`);
  lines.push(`simulcast:recv ${offered.layers.map((l) => (l.paused ? `~${l.rid}` : l.rid)).join(';')}`);
  return lines;
}
