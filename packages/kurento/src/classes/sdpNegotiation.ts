import { MediaError, validateSdpSyntax, WebRtcEndpoint, type MediaKind } from '@roundtable/media';
import { KurentoError, type KurentoErrorName } from '../errors.js';
import type { Params } from '../Params.js';
import type { RemoteObject } from '../RemoteObject.js';
import { kurentoErrorOf } from './helpers.js';

/** What SDP-negotiated engine endpoints (WebRtcEndpoint, RtpEndpoint) offer for negotiation. */
export interface SdpNegotiator {
  processOffer(offer: string): Promise<string>;
  generateOffer(options?: { kinds?: readonly MediaKind[] }): Promise<string>;
  processAnswer(answer: string): Promise<void>;
  getLocalSessionDescriptor(): string | undefined;
  getRemoteSessionDescriptor(): string | undefined;
}

/** Which side this endpoint took: it made the offer, or it answered one. */
type Role = 'offerer' | 'answerer';
const ROLE = '__sdpRole';

/**
 * Kurento's SdpEndpoint negotiation, with its error codes: one offer/answer per
 * endpoint (a second processOffer or generateOffer is 40208 ALREADY_NEGOTIATED; a
 * WebRtcEndpoint that answered takes a later offer from the same peer, which
 * Roundtable uses for ICE restarts), processAnswer only after generateOffer (40209)
 * and once (40210), an SDP that does not parse 40201, one that cannot be negotiated
 * 40205 / 40206, and no descriptor yet 40202 / 40203. A refused call changes nothing.
 */
export const sdpNegotiation = {
  async generateOffer(obj: RemoteObject, target: SdpNegotiator, p: Params): Promise<string> {
    const kinds = offerKinds(p);
    claimRole(obj, 'offerer', 'an offer was already generated or processed on this endpoint');
    try {
      return await target.generateOffer({ kinds });
    } catch (error) {
      obj.stored.delete(ROLE);
      throw sdpError(error, 'SDP_END_POINT_GENERATE_OFFER_ERROR');
    }
  },

  async processOffer(obj: RemoteObject, target: SdpNegotiator, offer: string): Promise<string> {
    checkSyntax(offer, 'offer');
    const role = obj.stored.get(ROLE);
    const reoffer = role === 'answerer' && target instanceof WebRtcEndpoint;
    if (!reoffer) claimRole(obj, 'answerer', 'an offer was already generated or processed on this endpoint');
    try {
      return await target.processOffer(offer);
    } catch (error) {
      if (!reoffer) obj.stored.delete(ROLE);
      throw sdpError(error, 'SDP_END_POINT_PROCESS_OFFER_ERROR');
    }
  },

  async processAnswer(obj: RemoteObject, target: SdpNegotiator, answer: string): Promise<string> {
    if (answer === '') throw new KurentoError('SDP_PARSE_ERROR', 'Empty answer not valid');
    if (obj.stored.get(ROLE) !== 'offerer') {
      throw new KurentoError('SDP_END_POINT_NOT_OFFER_GENERATED', 'Offer not generated. It is not possible to process an answer.');
    }
    checkSyntax(answer, 'answer');
    if (target.getRemoteSessionDescriptor() !== undefined) {
      throw new KurentoError('SDP_END_POINT_ANSWER_ALREADY_PROCCESED', 'Sdp Answer already processed');
    }
    try {
      await target.processAnswer(answer);
    } catch (error) {
      throw sdpError(error, 'SDP_END_POINT_PROCESS_ANSWER_ERROR');
    }
    return localDescriptor(target);
  },

  localDescriptor,

  remoteDescriptor(target: SdpNegotiator): string {
    const sdp = target.getRemoteSessionDescriptor();
    if (sdp === undefined) throw new KurentoError('SDP_END_POINT_NO_REMOTE_SDP_ERROR', 'No remote SDP: no offer or answer was processed yet');
    return sdp;
  },
};

function localDescriptor(target: SdpNegotiator): string {
  const sdp = target.getLocalSessionDescriptor();
  if (sdp === undefined) throw new KurentoError('SDP_END_POINT_NO_LOCAL_SDP_ERROR', 'No local SDP: no offer was generated or answered yet');
  return sdp;
}

/** Takes the role, or refuses as KMS does when a negotiation was already started. */
function claimRole(obj: RemoteObject, role: Role, why: string): void {
  if (obj.stored.has(ROLE)) throw new KurentoError('SDP_END_POINT_ALREADY_NEGOTIATED', `Endpoint already negotiated: ${why}`);
  obj.stored.set(ROLE, role);
}

/** KMS parses the SDP before anything else: what does not parse is 40201. */
function checkSyntax(sdp: string, what: 'offer' | 'answer'): void {
  if (sdp === '') throw new KurentoError('SDP_PARSE_ERROR', `Empty ${what} not valid`);
  try {
    validateSdpSyntax(sdp);
  } catch (error) {
    throw new KurentoError('SDP_PARSE_ERROR', `Error parsing SDP: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The media kinds of generateOffer's OfferOptions (KMS 6.13+/7.x); both when not given. */
function offerKinds(p: Params): MediaKind[] {
  if (!p.has('options')) return ['audio', 'video'];
  const options = p.record('options');
  const wanted = (name: 'offerToReceiveAudio' | 'offerToReceiveVideo'): boolean => {
    const v = options[name];
    if (v === undefined || v === null) return true;
    if (typeof v !== 'boolean') throw new KurentoError('INVALID_PARAMS', `OfferOptions.${name} must be a boolean`);
    return v;
  };
  const kinds: MediaKind[] = [];
  if (wanted('offerToReceiveAudio')) kinds.push('audio');
  if (wanted('offerToReceiveVideo')) kinds.push('video');
  return kinds;
}

/** An engine error of one SDP operation: a state error is 40208, anything else the operation's own code. */
function sdpError(error: unknown, failed: KurentoErrorName): KurentoError {
  if (error instanceof KurentoError) return error;
  if (error instanceof MediaError) {
    if (error.code === 'INVALID_STATE') return new KurentoError('SDP_END_POINT_ALREADY_NEGOTIATED', `Endpoint already negotiated: ${error.message}`);
    if (error.code === 'INVALID_SDP' || error.code === 'NO_COMMON_CODEC' || error.code === 'INVALID_ARGUMENT') return new KurentoError(failed, error.message);
  }
  return kurentoErrorOf(error);
}
