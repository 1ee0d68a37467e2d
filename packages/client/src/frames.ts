import type { ServerNotification } from '@roundtable/protocol';

/*
 * Minimal checks of server frames: the server is trusted to send well-formed data, but
 * a proxy, a bug or a version skew must not crash the client. A frame that fails these
 * checks is dropped.
 */

export type InboundFrame =
  | { kind: 'response'; id: number; ok: true; result: unknown }
  | { kind: 'response'; id: number | null; ok: false; error: { code: string; message: string; retryAfterMs?: number } }
  | { kind: 'notification'; notification: ServerNotification };

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

const NOTIFICATION_TYPES: ReadonlySet<string> = new Set<ServerNotification['type']>([
  'message',
  'conversation',
  'call.incoming',
  'call.answered',
  'call.ended',
  'call.left',
  'call.signal',
  'call.modified',
  'call.invited',
  'call.participant',
  'call.moved',
  'presence',
  'room.signal',
  'call.recording',
  'room.recording',
  'room.ended',
  'room.moved',
  'session.ended',
  'call.participantState',
  'room.participantState',
  'call.reaction',
  'room.reaction',
  'room.participant',
  'room.left',
  'room.message',
  'contact.request',
  'contact.accepted',
]);

export function parseServerFrame(data: unknown): InboundFrame | undefined {
  if (typeof data !== 'string') return undefined; // the protocol is text frames only
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isObject(frame)) return undefined;
  if ('ok' in frame) {
    const id = frame['id'];
    if (frame['ok'] === true && typeof id === 'number') return { kind: 'response', id, ok: true, result: frame['result'] };
    const error = frame['error'];
    if (frame['ok'] === false && (typeof id === 'number' || id === null) && isObject(error) && typeof error['code'] === 'string' && typeof error['message'] === 'string') {
      const retryAfterMs = error['retryAfterMs'];
      const retry = typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0 ? { retryAfterMs } : {};
      return { kind: 'response', id, ok: false, error: { code: error['code'], message: error['message'], ...retry } };
    }
    return undefined;
  }
  const type = frame['type'];
  if (typeof type !== 'string' || !NOTIFICATION_TYPES.has(type)) return undefined;
  if (type.startsWith('call.') && typeof frame['callId'] !== 'string') return undefined;
  if ((type === 'call.signal' || type === 'room.signal') && !(isObject(frame['payload']) && typeof frame['payload']['type'] === 'string')) return undefined;
  if (type.endsWith('.participantState') && !(isObject(frame['state']) && typeof frame['userId'] === 'string')) return undefined;
  if (type.endsWith('.reaction') && !(typeof frame['reaction'] === 'string' && typeof frame['from'] === 'string')) return undefined;
  if ((type === 'room.participant' || type === 'room.left') && typeof frame['userId'] !== 'string') return undefined;
  if (type === 'room.message' && !(isObject(frame['message']) && typeof frame['message']['seq'] === 'number' && typeof frame['message']['text'] === 'string' && typeof frame['message']['senderId'] === 'string')) return undefined;
  return { kind: 'notification', notification: frame as unknown as ServerNotification };
}
