/**
 * The events of Kurento's remote classes that the client subscribes to, by their 7.x
 * names, with their payload schemas. Every payload carries `source` (the object id),
 * `type` (the event name), and usually `timestampMillis` and `tags`.
 */
import { z } from 'zod';
import {
  connectionStateSchema,
  iceCandidatePairSchema,
  iceCandidateSchema,
  iceComponentStateSchema,
  mediaFlowStateSchema,
  mediaTypeSchema,
  tagSchema,
} from './types.js';

const timestamp = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .optional();

const base = z.object({
  source: z.string(),
  type: z.string(),
  timestamp,
  timestampMillis: timestamp,
  tags: z.array(tagSchema).optional(),
});

const stateChange = base.extend({ oldState: connectionStateSchema, newState: connectionStateSchema });
const mediaFlow = base.extend({ state: mediaFlowStateSchema, padName: z.string(), mediaType: mediaTypeSchema });
const elementConnection = base.extend({
  /** Id of the sink element. */
  sink: z.string(),
  mediaType: mediaTypeSchema,
  sourceMediaDescription: z.string(),
  sinkMediaDescription: z.string(),
});

export const eventSchemas = {
  // MediaElement
  ElementConnected: elementConnection,
  ElementDisconnected: elementConnection,
  MediaFlowInStateChanged: mediaFlow,
  MediaFlowOutStateChanged: mediaFlow,
  // BaseRtpEndpoint
  MediaStateChanged: stateChange,
  ConnectionStateChanged: stateChange,
  // WebRtcEndpoint
  IceCandidateFound: base.extend({ candidate: iceCandidateSchema }),
  IceGatheringDone: base,
  IceComponentStateChanged: base.extend({ streamId: z.number().int(), componentId: z.number().int(), state: iceComponentStateSchema }),
  NewCandidatePairSelected: base.extend({ candidatePair: iceCandidatePairSchema }),
  // ServerManager
  ObjectCreated: base.extend({ /** Id of the new object. */ object: z.string() }),
  ObjectDestroyed: base.extend({ /** Id of the released object. */ objectId: z.string() }),
} as const;

export type KurentoEventName = keyof typeof eventSchemas;
/** Payload of every event, by name. */
export type KurentoEvents = { [K in KurentoEventName]: z.infer<(typeof eventSchemas)[K]> };

export type ElementConnectedEvent = KurentoEvents['ElementConnected'];
export type ElementDisconnectedEvent = KurentoEvents['ElementDisconnected'];
export type MediaFlowInStateChangedEvent = KurentoEvents['MediaFlowInStateChanged'];
export type MediaFlowOutStateChangedEvent = KurentoEvents['MediaFlowOutStateChanged'];
export type MediaStateChangedEvent = KurentoEvents['MediaStateChanged'];
export type ConnectionStateChangedEvent = KurentoEvents['ConnectionStateChanged'];
export type IceCandidateFoundEvent = KurentoEvents['IceCandidateFound'];
export type IceGatheringDoneEvent = KurentoEvents['IceGatheringDone'];
export type IceComponentStateChangedEvent = KurentoEvents['IceComponentStateChanged'];
export type NewCandidatePairSelectedEvent = KurentoEvents['NewCandidatePairSelected'];
export type ObjectCreatedEvent = KurentoEvents['ObjectCreated'];
export type ObjectDestroyedEvent = KurentoEvents['ObjectDestroyed'];

/** Events of each remote class (a class has its parents' events too). */
export type MediaElementEvents = Pick<KurentoEvents, 'ElementConnected' | 'ElementDisconnected' | 'MediaFlowInStateChanged' | 'MediaFlowOutStateChanged'>;
export type BaseRtpEndpointEvents = MediaElementEvents & Pick<KurentoEvents, 'MediaStateChanged' | 'ConnectionStateChanged'>;
export type WebRtcEndpointEvents = BaseRtpEndpointEvents &
  Pick<KurentoEvents, 'IceCandidateFound' | 'IceGatheringDone' | 'IceComponentStateChanged' | 'NewCandidatePairSelected'>;
export type ServerManagerEvents = Pick<KurentoEvents, 'ObjectCreated' | 'ObjectDestroyed'>;

/** KMS 6.13 names some events without the final 'd'; they are delivered under the 7.x name. */
const LEGACY_NAMES: Record<string, KurentoEventName> = {
  IceComponentStateChange: 'IceComponentStateChanged',
  MediaFlowInStateChange: 'MediaFlowInStateChanged',
  MediaFlowOutStateChange: 'MediaFlowOutStateChanged',
};

export function normalizeEventName(type: string): string {
  return LEGACY_NAMES[type] ?? type;
}

export function eventSchemaOf(type: string): z.ZodType | undefined {
  return Object.hasOwn(eventSchemas, type) ? eventSchemas[type as KurentoEventName] : undefined;
}
