import { BaseRtpEndpoint } from './BaseRtpEndpoint.js';

/** Plain RTP in and out, negotiated with SDP: for gateways and external tools. */
export class RtpEndpoint extends BaseRtpEndpoint {}
