/** Keyframe detection in RTP payloads, for the codecs Roundtable forwards. */

/** VP8 (RFC 7741): a keyframe starts a partition 0 with the P bit of the payload header cleared. */
export function isVp8Keyframe(payload: Uint8Array): boolean {
  if (payload.length < 1) return false;
  const b0 = payload[0]!;
  const start = (b0 & 0x10) !== 0;
  const partId = b0 & 0x07;
  if (!start || partId !== 0) return false;
  let offset = 1;
  if (b0 & 0x80) {
    if (payload.length < 2) return false;
    const b1 = payload[1]!;
    offset = 2;
    if (b1 & 0x80) offset += payload[offset]! & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
    if (b1 & 0x40) offset += 1; // TL0PICIDX
    if (b1 & 0x30) offset += 1; // TID / KEYIDX
  }
  if (offset >= payload.length) return false;
  return (payload[offset]! & 0x01) === 0;
}

const H264_IDR = 5;
const H264_SPS = 7;
const H264_STAP_A = 24;
const H264_FU_A = 28;

/** H.264 (RFC 6184): a packet that carries an SPS or the start of an IDR slice. */
export function isH264Keyframe(payload: Uint8Array): boolean {
  if (payload.length < 1) return false;
  const type = payload[0]! & 0x1f;
  if (type === H264_IDR || type === H264_SPS) return true;
  if (type === H264_FU_A) {
    if (payload.length < 2) return false;
    const start = (payload[1]! & 0x80) !== 0;
    const inner = payload[1]! & 0x1f;
    return start && (inner === H264_IDR || inner === H264_SPS);
  }
  if (type === H264_STAP_A) {
    let offset = 1;
    while (offset + 2 < payload.length) {
      const size = (payload[offset]! << 8) | payload[offset + 1]!;
      const inner = payload[offset + 2]! & 0x1f;
      if (inner === H264_IDR || inner === H264_SPS) return true;
      offset += 2 + size;
    }
  }
  return false;
}

export function isKeyframe(mimeType: string, payload: Uint8Array): boolean {
  switch (mimeType.toLowerCase()) {
    case 'video/vp8':
      return isVp8Keyframe(payload);
    case 'video/h264':
      return isH264Keyframe(payload);
    default:
      return false;
  }
}
