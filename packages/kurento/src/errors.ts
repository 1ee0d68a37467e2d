/**
 * Error codes of the Kurento Protocol. JSON-RPC's own codes are for malformed
 * requests; the 40xxx codes are Kurento Media Server's, which the official clients
 * know by number (`data.type` carries the name).
 */
export const KurentoErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** KMS's MARSHALL_ERROR (e.g. a GStreamerFilter command GStreamer cannot make an element of). */
  MARSHALL_ERROR: 40001,
  UNEXPECTED_ERROR: 40003,
  /** KMS's CONNECT_ERROR: a connection between elements that cannot be made. */
  CONNECT_ERROR: 40004,
  INVALID_SESSION: 40007,
  MEDIA_OBJECT_TYPE_NOT_FOUND: 40100,
  MEDIA_OBJECT_NOT_FOUND: 40101,
  MEDIA_OBJECT_CONSTRUCTOR_NOT_FOUND: 40104,
  MEDIA_OBJECT_METHOD_NOT_FOUND: 40105,
  MEDIA_OBJECT_EVENT_NOT_SUPPORTED: 40106,
  MEDIA_OBJECT_ILLEGAL_PARAM_ERROR: 40107,
  MEDIA_OBJECT_NOT_AVAILABLE: 40108,
  MEDIA_OBJECT_TAG_KEY_NOT_FOUND: 40110,
  MEDIA_OBJECT_OPERATION_NOT_SUPPORTED: 40111,
  SDP_PARSE_ERROR: 40201,
  SDP_END_POINT_NO_LOCAL_SDP_ERROR: 40202,
  SDP_END_POINT_NO_REMOTE_SDP_ERROR: 40203,
  SDP_END_POINT_GENERATE_OFFER_ERROR: 40204,
  SDP_END_POINT_PROCESS_OFFER_ERROR: 40205,
  SDP_END_POINT_PROCESS_ANSWER_ERROR: 40206,
  SDP_END_POINT_ALREADY_NEGOTIATED: 40208,
  SDP_END_POINT_NOT_OFFER_GENERATED: 40209,
  SDP_END_POINT_ANSWER_ALREADY_PROCCESED: 40210,
  ICE_ADD_CANDIDATE_ERROR: 40401,
  SERVER_MANAGER_ERROR_KMD_NOT_FOUND: 40500,
  NOT_ENOUGH_RESOURCES: 40009,
} as const;

export type KurentoErrorName = keyof typeof KurentoErrorCode;

export class KurentoError extends Error {
  readonly code: number;
  constructor(
    readonly type: KurentoErrorName,
    message: string,
  ) {
    super(message);
    this.name = 'KurentoError';
    this.code = KurentoErrorCode[type];
  }

  toJson(): { code: number; message: string; data: { type: string } } {
    return { code: this.code, message: this.message, data: { type: this.type } };
  }
}
