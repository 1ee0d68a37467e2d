export {
  WebRtcTransport,
  type WebRtcTransportOptions,
  type WebRtcTransportEvents,
  type WebRtcTransportStats,
  type TransportIceState,
  type TransportDtlsState,
  type TransportTestHooks,
} from './WebRtcTransport.js';
export { Producer, LAYER_QUIET_MS, type ProducerStats, type ProducerEvents, type LayerState } from './Producer.js';
export { Consumer, validateLayerRequest, type ConsumerStats, type ConsumerEvents, type LayerRequest } from './Consumer.js';
export { DtlsCertificate, type DtlsRole } from './DtlsSession.js';
export { type NegotiatedCodec } from './transportSdp.js';
