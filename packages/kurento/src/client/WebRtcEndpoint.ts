import { z } from 'zod';
import { BaseRtpEndpoint } from './BaseRtpEndpoint.js';
import type { WebRtcEndpointEvents } from './events.js';
import type { IceCandidate } from './types.js';

/**
 * A WebRTC peer on the server. Its candidates are gathered only after
 * gatherCandidates(), and trickle out as IceCandidateFound events: subscribe first.
 */
export class WebRtcEndpoint extends BaseRtpEndpoint<WebRtcEndpointEvents> {
  /** Starts ICE gathering; call it after processOffer() / generateOffer(). */
  async gatherCandidates(): Promise<void> {
    await this.invoke('gatherCandidates');
  }

  /** Adds a candidate of the remote peer. */
  async addIceCandidate(candidate: IceCandidate): Promise<void> {
    await this.invoke('addIceCandidate', {
      candidate: {
        __module__: 'kurento',
        __type__: 'IceCandidate',
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid,
        sdpMLineIndex: candidate.sdpMLineIndex,
      },
    });
  }

  getStunServerAddress(): Promise<string> {
    return this.invokeAs(z.string(), 'getStunServerAddress');
  }

  setStunServerAddress(address: string): Promise<void> {
    return this.setProperty('stunServerAddress', address);
  }

  getStunServerPort(): Promise<number> {
    return this.invokeAs(z.number().int(), 'getStunServerPort');
  }

  setStunServerPort(port: number): Promise<void> {
    return this.setProperty('stunServerPort', port);
  }

  /** `user:password@address:port?transport=udp|tcp`, or '' for none. */
  getTurnUrl(): Promise<string> {
    return this.invokeAs(z.string(), 'getTurnUrl');
  }

  setTurnUrl(turnUrl: string): Promise<void> {
    return this.setProperty('turnUrl', turnUrl);
  }

  /** Address announced in the endpoint's candidates instead of the local one ('' for none). */
  getExternalAddress(): Promise<string> {
    return this.invokeAs(z.string(), 'getExternalAddress');
  }

  setExternalAddress(address: string): Promise<void> {
    return this.setProperty('externalAddress', address);
  }
}
