/**
 * The room calls on a Roundtable media node's Kurento Protocol endpoint: methods of our
 * own beside the protocol's, on the same connection and session.
 *
 * - request `roundtable.roomCall`, params `{ method, params }` (a call of roomCalls.ts),
 *   value: a RoomReply (`{ ok: true, result }` or `{ ok: false, error }`);
 * - notification `roundtable.roomEvent`, params: a RoomEvent of a room of the session.
 *
 * A server without them (a Kurento Media Server) answers METHOD_NOT_FOUND.
 */
export const ROOM_CALL_METHOD = 'roundtable.roomCall';
export const ROOM_EVENT_METHOD = 'roundtable.roomEvent';
