export { BandwidthEstimator, BWE_DEFAULTS, type BandwidthEstimatorOptions, type BandwidthEstimatorStats } from './BandwidthEstimator.js';
export { allocateBitrate, priorityOrder, type BitrateClaim } from './allocateBitrate.js';
export { TRANSPORT_CC_EXTENSION, readTransportCcFeedback, writeTransportCcFeedback, type TransportCcFeedback } from './transportCc.js';
export { type BandwidthUsage } from './OveruseDetector.js';
