// RTP header reading and keyframe detection for the native packet path: the same
// rules as src/transport/RtpView.ts and src/rtp/keyframe.ts, every read bounds-checked.
#pragma once

#include <cstdint>

namespace rt {

struct RtpView {
  uint8_t* data;
  int end;            // packet length (padding included)
  int payloadOffset;  // after CSRCs and extension
  int csrcCount;
  bool padding;
  bool marker;
  uint8_t payloadType;
  uint16_t seq;
  uint32_t timestamp;
  uint32_t ssrc;
  /** Payload length without padding. */
  int payloadLength() const { return (padding ? end - data[end - 1] : end) - payloadOffset; }
};

inline uint32_t rd32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }
inline uint16_t rd16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
inline void wr32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
inline void wr16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

/** Reads the header of data[0, length); false when it is not RTP that fits. */
inline bool readRtp(uint8_t* data, int length, RtpView* v) {
  if (length < 12) return false;
  uint8_t b0 = data[0];
  if ((b0 >> 6) != 2) return false;
  int cc = b0 & 0x0f;
  int offset = 12 + cc * 4;
  if (b0 & 0x10) {
    if (offset + 4 > length) return false;
    offset += 4 + rd16(data + offset + 2) * 4;
  }
  if (offset > length) return false;
  bool padding = (b0 & 0x20) != 0;
  if (padding && (length == offset || data[length - 1] > length - offset)) return false;
  v->data = data;
  v->end = length;
  v->payloadOffset = offset;
  v->csrcCount = cc;
  v->padding = padding;
  v->marker = (data[1] & 0x80) != 0;
  v->payloadType = data[1] & 0x7f;
  v->seq = rd16(data + 2);
  v->timestamp = rd32(data + 4);
  v->ssrc = rd32(data + 8);
  return true;
}

/**
 * The first byte of header extension element `id` of a packet read by readRtp (one-byte
 * form, RFC 8285 §4.2, or two-byte form §4.3), or -1 when the packet has none. Every
 * offset is checked against the extension block, which readRtp checked against the packet.
 */
inline int readExtensionByte(const RtpView& v, int id) {
  const uint8_t* d = v.data;
  if (!(d[0] & 0x10) || id <= 0) return -1;
  int at = 12 + v.csrcCount * 4;
  int profile = rd16(d + at);
  int end = at + 4 + rd16(d + at + 2) * 4;  // == v.payloadOffset
  int i = at + 4;
  if (profile == 0xBEDE) {
    if (id > 14) return -1;
    while (i < end) {
      int b = d[i];
      if (b == 0) {  // padding
        i++;
        continue;
      }
      int elementId = b >> 4, length = (b & 0x0f) + 1;
      if (elementId == 15) return -1;
      if (i + 1 + length > end) return -1;
      if (elementId == id) return d[i + 1];
      i += 1 + length;
    }
  } else if ((profile & 0xfff0) == 0x1000) {
    while (i < end) {
      int elementId = d[i];
      if (elementId == 0) {
        i++;
        continue;
      }
      if (i + 2 > end) return -1;
      int length = d[i + 1];
      if (i + 2 + length > end) return -1;
      if (elementId == id) return length >= 1 ? d[i + 2] : -1;
      i += 2 + length;
    }
  }
  return -1;
}


inline int seqDiff(uint16_t a, uint16_t b) {
  int d = (a - b) & 0xffff;
  return d >= 0x8000 ? d - 0x10000 : d;
}

enum Codec : int { kCodecOther = 0, kCodecVp8 = 1, kCodecH264 = 2 };

/** VP8 (RFC 7741): the start of partition 0 with the P bit of the payload header cleared. */
inline bool isVp8Keyframe(const uint8_t* p, int n) {
  if (n < 1) return false;
  uint8_t b0 = p[0];
  if (!(b0 & 0x10) || (b0 & 0x07) != 0) return false;
  int offset = 1;
  if (b0 & 0x80) {
    if (n < 2) return false;
    uint8_t b1 = p[1];
    offset = 2;
    if (b1 & 0x80) {
      if (offset >= n) return false;
      offset += (p[offset] & 0x80) ? 2 : 1;
    }
    if (b1 & 0x40) offset += 1;
    if (b1 & 0x30) offset += 1;
  }
  if (offset >= n) return false;
  return (p[offset] & 0x01) == 0;
}

/** H.264 (RFC 6184): an SPS or the start of an IDR slice. */
inline bool isH264Keyframe(const uint8_t* p, int n) {
  if (n < 1) return false;
  int type = p[0] & 0x1f;
  if (type == 5 || type == 7) return true;
  if (type == 28) {
    if (n < 2) return false;
    int inner = p[1] & 0x1f;
    return (p[1] & 0x80) && (inner == 5 || inner == 7);
  }
  if (type == 24) {
    int offset = 1;
    while (offset + 2 < n) {
      int size = (p[offset] << 8) | p[offset + 1];
      int inner = p[offset + 2] & 0x1f;
      if (inner == 5 || inner == 7) return true;
      offset += 2 + size;
    }
  }
  return false;
}

inline bool isKeyframe(int codec, const uint8_t* p, int n) {
  if (codec == kCodecVp8) return isVp8Keyframe(p, n);
  if (codec == kCodecH264) return isH264Keyframe(p, n);
  return false;
}

}  // namespace rt
