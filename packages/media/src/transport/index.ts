export {
  WebRtcTransport,
  type WebRtcTransportOptions,
  type WebRtcTransportEvents,
  type WebRtcTransportStats,
  type TransportIceState,
  type TransportDtlsState,
  type TransportTestHooks,
} from './WebRtcTransport.js';
export { Producer, type ProducerStats, type ProducerEvents } from './Producer.js';
export { Consumer, type ConsumerStats, type ConsumerEvents } from './Consumer.js';
export { DtlsCertificate, type DtlsRole } from './DtlsSession.js';
export { type NegotiatedCodec } from './transportSdp.js';
