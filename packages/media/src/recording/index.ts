export { RecorderEndpoint, type RecorderEndpointOptions, type RecorderEndpointEvents, type UriEndpointState } from './RecorderEndpoint.js';
export { PlayerEndpoint, type PlayerEndpointOptions, type PlayerEndpointEvents, type VideoInfo } from './PlayerEndpoint.js';
export { MEDIA_PROFILES, isMediaProfile, profileSpec, type MediaProfile } from './profiles.js';
export { SupervisedProcess, type SupervisedProcessOptions, type SupervisedProcessEvents } from './SupervisedProcess.js';
export { probeMedia, type ProbeResult, type ProbedStream } from './probe.js';
export { createRecorderEndpoint, createPlayerEndpoint } from './factories.js';
export { UploadError, uploadFile, CONTAINER_MIME, type UploadOptions } from './upload.js';
export { HttpPostEndpoint, type HttpPostEndpointOptions, type HttpPostEndpointEvents, type PlayStreamOptions } from './HttpPostEndpoint.js';
export { probeHead } from './probe.js';
