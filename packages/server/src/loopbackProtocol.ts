/**
 * The JSON protocol of the loopback page over `/ws`. Inbound data is `unknown`
 * until `parseClientMessage` has checked it against the schema for its `id`.
 *
 * client -> server: start {sdpOffer}, onIceCandidate {candidate}, stop
 * server -> client: startResponse {sdpAnswer}, iceCandidate {candidate}, error {message}
 */
import { z } from 'zod';
import { MessageError } from './errors.js';

/** Upper bound for one inbound WebSocket message; an SDP offer is a few KiB. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

const iceCandidateSchema = z.object({
  candidate: z.string().max(1024),
  sdpMid: z.string().max(256).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(1023).nullable().optional(),
  usernameFragment: z.string().max(256).nullable().optional(),
});

const clientMessageSchemas = {
  start: z.object({ id: z.literal('start'), sdpOffer: z.string().min(1).max(MAX_MESSAGE_BYTES) }),
  onIceCandidate: z.object({ id: z.literal('onIceCandidate'), candidate: iceCandidateSchema }),
  stop: z.object({ id: z.literal('stop') }),
} as const;

export type ClientMessageId = keyof typeof clientMessageSchemas;
export type ClientMessage = { [K in ClientMessageId]: z.infer<(typeof clientMessageSchemas)[K]> }[ClientMessageId];
export type ClientMessageOf<K extends ClientMessageId> = Extract<ClientMessage, { id: K }>;
export type IceCandidateInit = z.infer<typeof iceCandidateSchema>;

/** An ICE candidate as the server sends it: what `RTCPeerConnection.addIceCandidate()` takes. */
export interface WireIceCandidate {
  candidate: string;
  sdpMid: string | null;
  sdpMLineIndex: number | null;
}

export type ServerMessage =
  | { id: 'startResponse'; sdpAnswer: string }
  | { id: 'iceCandidate'; candidate: WireIceCandidate }
  | { id: 'error'; message: string };

function isClientMessageId(id: string): id is ClientMessageId {
  return Object.hasOwn(clientMessageSchemas, id);
}

/** Parses and validates one text frame. Throws `MessageError` with a reason a person can act on. */
export function parseClientMessage(text: string): ClientMessage {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new MessageError('message is not valid JSON');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new MessageError('message must be a JSON object');
  }
  const id: unknown = (data as Record<string, unknown>)['id'];
  if (typeof id !== 'string') throw new MessageError("message has no string 'id'");
  if (!isClientMessageId(id)) {
    throw new MessageError(`unknown message id '${id.slice(0, 64)}' (expected one of: ${Object.keys(clientMessageSchemas).join(', ')})`);
  }
  const result = clientMessageSchemas[id].safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(message)'}: ${issue.message}`);
    throw new MessageError(`invalid '${id}' message: ${problems.join('; ')}`);
  }
  return result.data;
}
