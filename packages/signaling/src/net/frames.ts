import { zClientRequest, type ClientRequest, type RequestType } from '@roundtable/protocol';

/*
 * Reading a request frame, in the order the server needs: first the id (so even a bad
 * request gets an answer it can match), then the type (so an unauthenticated socket is
 * refused before its fields are looked at), then the whole request against the schema.
 */

/** Every request type the protocol defines. */
export const REQUEST_TYPES: ReadonlySet<RequestType> = new Set(zClientRequest.options.map((option) => option.shape.type.value));

const MAX_ISSUES_REPORTED = 5;

/** A frame that is a JSON object with a valid id and a known type; its fields are not checked yet. */
export interface Envelope {
  id: number;
  type: RequestType;
  body: Record<string, unknown>;
}

/** Why a frame is not a request; `id` when the frame had a usable one. */
export interface FrameError {
  id: number | null;
  message: string;
}

export type DecodedFrame = { ok: true; envelope: Envelope } | { ok: false; error: FrameError };

export function decodeFrame(text: string): DecodedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(null, `the frame is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(null, 'a request is a JSON object {"id": <integer>, "type": <string>, ...}');
  }
  const body = value as Record<string, unknown>;
  const id = body['id'];
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return fail(null, 'id must be a non-negative integer');
  const type = body['type'];
  if (typeof type !== 'string') return fail(id, 'type must be a string naming the request');
  if (!REQUEST_TYPES.has(type as RequestType)) return fail(id, `unknown request type '${type.slice(0, 64)}'`);
  return { ok: true, envelope: { id, type: type as RequestType, body } };
}

/** The request, validated against the protocol schema; or what is wrong with it, field by field. */
export function validateRequest(envelope: Envelope): { ok: true; request: ClientRequest } | { ok: false; error: FrameError } {
  const parsed = zClientRequest.safeParse(envelope.body);
  if (parsed.success) return { ok: true, request: parsed.data };
  const issues = parsed.error.issues;
  const described = issues.slice(0, MAX_ISSUES_REPORTED).map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  if (issues.length > MAX_ISSUES_REPORTED) described.push(`and ${issues.length - MAX_ISSUES_REPORTED} more`);
  return fail(envelope.id, `invalid '${envelope.type}' request: ${described.join('; ')}`);
}

/** Best effort: the id of a frame we will not otherwise read (e.g. one refused by the rate limit). */
export function peekId(text: string): number | null {
  const decoded = decodeFrame(text);
  return decoded.ok ? decoded.envelope.id : decoded.error.id;
}

function fail(id: number | null, message: string): { ok: false; error: FrameError } {
  return { ok: false, error: { id, message } };
}
