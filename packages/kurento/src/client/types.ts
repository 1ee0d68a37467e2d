/**
 * The Kurento values the client reads from the wire, as zod schemas (data from the
 * server is `unknown` until checked) with the TypeScript types derived from them.
 */
import { z } from 'zod';

export const mediaTypeSchema = z.enum(['AUDIO', 'VIDEO', 'DATA']);
/** AUDIO, VIDEO or DATA; operations that take it act on every type when it is left out. */
export type MediaType = z.infer<typeof mediaTypeSchema>;

export const iceCandidateSchema = z.object({
  candidate: z.string(),
  sdpMid: z.string(),
  sdpMLineIndex: z.number().int(),
});
/** An ICE candidate as Kurento's `IceCandidate` type carries it. */
export type IceCandidate = z.infer<typeof iceCandidateSchema>;

export const iceCandidatePairSchema = z.object({
  streamID: z.string(),
  componentID: z.number().int(),
  localCandidate: z.string(),
  remoteCandidate: z.string(),
});
export type IceCandidatePair = z.infer<typeof iceCandidatePairSchema>;

export const tagSchema = z.object({ key: z.string(), value: z.string() });
export type Tag = z.infer<typeof tagSchema>;

export const elementConnectionSchema = z.object({
  source: z.string(),
  sink: z.string(),
  type: mediaTypeSchema,
  sourceDescription: z.string(),
  sinkDescription: z.string(),
});
/** One connection between two elements (ids), per media type. */
export type ElementConnection = z.infer<typeof elementConnectionSchema>;

/** One entry of `getStats()`; fields beyond these depend on the entry's `type`. */
export const statsEntrySchema = z.looseObject({
  type: z.string(),
  id: z.string().optional(),
  timestampMillis: z.number().optional(),
  ssrc: z.string().optional(),
  packetsReceived: z.number().optional(),
  bytesReceived: z.number().optional(),
  packetsSent: z.number().optional(),
  bytesSent: z.number().optional(),
  packetsLost: z.number().optional(),
});
export type StatsEntry = z.infer<typeof statsEntrySchema>;
export const statsSchema = z.record(z.string(), statsEntrySchema);
/** `getStats()` of an element: entries by their id. */
export type Stats = z.infer<typeof statsSchema>;

export const moduleInfoSchema = z.object({
  name: z.string(),
  version: z.string(),
  generationTime: z.string(),
  factories: z.array(z.string()),
});
export type ModuleInfo = z.infer<typeof moduleInfoSchema>;

export const serverInfoSchema = z.object({
  version: z.string(),
  modules: z.array(moduleInfoSchema),
  type: z.string(),
  capabilities: z.array(z.string()),
});
export type ServerInfo = z.infer<typeof serverInfoSchema>;

export const describeSchema = z.object({
  type: z.string(),
  hierarchy: z.array(z.string()),
  qualifiedType: z.string(),
});
/** What `describe` tells of a remote object. */
export type ObjectDescription = z.infer<typeof describeSchema>;

export const iceComponentStateSchema = z.enum(['DISCONNECTED', 'GATHERING', 'CONNECTING', 'CONNECTED', 'READY', 'FAILED']);
export type IceComponentState = z.infer<typeof iceComponentStateSchema>;

export const connectionStateSchema = z.enum(['CONNECTED', 'DISCONNECTED']);
/** MediaState and ConnectionState of an RTP endpoint. */
export type ConnectionState = z.infer<typeof connectionStateSchema>;

export const mediaFlowStateSchema = z.enum(['FLOWING', 'NOT_FLOWING']);
export type MediaFlowState = z.infer<typeof mediaFlowStateSchema>;
