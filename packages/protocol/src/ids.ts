declare const brand: unique symbol;
/** A string that only a validator (or the server) may mint. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type UserId = Brand<string, 'UserId'>;
export type DeviceId = Brand<string, 'DeviceId'>;
export type ConversationId = Brand<string, 'ConversationId'>;
export type MessageId = Brand<string, 'MessageId'>;
export type CallId = Brand<string, 'CallId'>;
export type RoomName = Brand<string, 'RoomName'>;
export type RecordingId = Brand<string, 'RecordingId'>;
