import { z } from 'zod';
import type { BaseRtpEndpointEvents } from './events.js';
import { MediaElement } from './MediaElement.js';
import { connectionStateSchema, type ConnectionState } from './types.js';

/** What WebRtcEndpoint and RtpEndpoint share: SDP negotiation and the transport's state. */
export class BaseRtpEndpoint<E extends BaseRtpEndpointEvents = BaseRtpEndpointEvents> extends MediaElement<E> {
  /** Answers a remote offer; resolves with the SDP answer. Rejects with SDP_PARSE_ERROR (40201) on a bad offer. */
  processOffer(offer: string): Promise<string> {
    return this.invokeAs(z.string(), 'processOffer', { offer });
  }

  /**
   * Makes an SDP offer for the remote side to answer; `options` (Kurento's OfferOptions)
   * leave out audio or video. Rejects with SDP_END_POINT_ALREADY_NEGOTIATED (40208) once
   * an offer was generated or processed.
   */
  generateOffer(options?: { offerToReceiveAudio?: boolean; offerToReceiveVideo?: boolean }): Promise<string> {
    return this.invokeAs(z.string(), 'generateOffer', options ? { options: { __module__: 'kurento', __type__: 'OfferOptions', ...options } } : undefined);
  }

  /** Applies the remote answer to generateOffer(); resolves with the local description. */
  processAnswer(answer: string): Promise<string> {
    return this.invokeAs(z.string(), 'processAnswer', { answer });
  }

  getLocalSessionDescriptor(): Promise<string> {
    return this.invokeAs(z.string(), 'getLocalSessionDescriptor');
  }

  getRemoteSessionDescriptor(): Promise<string> {
    return this.invokeAs(z.string(), 'getRemoteSessionDescriptor');
  }

  getMediaState(): Promise<ConnectionState> {
    return this.invokeAs(connectionStateSchema, 'getMediaState');
  }

  getConnectionState(): Promise<ConnectionState> {
    return this.invokeAs(connectionStateSchema, 'getConnectionState');
  }
}
