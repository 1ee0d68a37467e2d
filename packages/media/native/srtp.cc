#include "srtp.h"

namespace rt {

static inline uint32_t rd32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }
static inline void wr32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

int rtpHeaderLength(const uint8_t* buf, int length) {
  if (length < 12) return -1;
  uint8_t b0 = buf[0];
  if ((b0 >> 6) != 2) return -1;
  int hl = 12 + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (length < hl + 4) return -1;
    hl += 4 + ((buf[hl + 2] << 8) | buf[hl + 3]) * 4;
  }
  return hl <= length ? hl : -1;
}

void HmacSha1::init(const uint8_t* key, size_t length) {
  uint8_t block[64] = {0};
  if (length > 64) length = 64;  // session auth keys are 20 bytes
  std::memcpy(block, key, length);
  uint8_t pad[64];
  for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
  SHA1_Init(&inner_);
  SHA1_Update(&inner_, pad, 64);
  for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
  SHA1_Init(&outer_);
  SHA1_Update(&outer_, pad, 64);
}

void HmacSha1::mac(const uint8_t* a, size_t aLength, const uint8_t* b, size_t bLength, uint8_t out[20]) const {
  SHA_CTX c = inner_;
  uint8_t h[20];
  SHA1_Update(&c, a, aLength);
  if (b) SHA1_Update(&c, b, bLength);
  SHA1_Final(h, &c);
  c = outer_;
  SHA1_Update(&c, h, 20);
  SHA1_Final(out, &c);
}

SrtpDirection* SrtpDirection::create(int profile, const SessionKeys& keys, bool protect) {
  const EVP_CIPHER* cipher = nullptr;
  int rtpTag = 0, rtcpTag = 0;
  bool gcm = false;
  switch (profile) {
    case kAesCm128Sha80:
      cipher = EVP_aes_128_ctr(), rtpTag = 10, rtcpTag = 10;
      break;
    case kAesCm128Sha32:
      cipher = EVP_aes_128_ctr(), rtpTag = 4, rtcpTag = 10;
      break;
    case kAeadAes128Gcm:
      cipher = EVP_aes_128_gcm(), rtpTag = 16, rtcpTag = 16, gcm = true;
      break;
    case kAeadAes256Gcm:
      cipher = EVP_aes_256_gcm(), rtpTag = 16, rtcpTag = 16, gcm = true;
      break;
    default:
      return nullptr;
  }
  SrtpDirection* d = new SrtpDirection();
  d->gcm_ = gcm;
  d->protect_ = protect;
  d->rtpTag_ = rtpTag;
  d->rtcpTag_ = rtcpTag;
  std::memcpy(d->rtpSalt_, keys.rtpSalt, 14);
  std::memcpy(d->rtcpSalt_, keys.rtcpSalt, 14);
  d->rtpCipher_ = EVP_CIPHER_CTX_new();
  d->rtcpCipher_ = EVP_CIPHER_CTX_new();
  bool ok = d->rtpCipher_ && d->rtcpCipher_;
  // Counter mode is its own inverse: both directions encrypt. GCM opens with a decrypting context.
  if (ok && (!gcm || protect)) {
    ok = EVP_EncryptInit_ex(d->rtpCipher_, cipher, nullptr, keys.rtpKey, nullptr) == 1 && EVP_EncryptInit_ex(d->rtcpCipher_, cipher, nullptr, keys.rtcpKey, nullptr) == 1;
  } else if (ok) {
    ok = EVP_DecryptInit_ex(d->rtpCipher_, cipher, nullptr, keys.rtpKey, nullptr) == 1 && EVP_DecryptInit_ex(d->rtcpCipher_, cipher, nullptr, keys.rtcpKey, nullptr) == 1;
  }
  if (!ok) {
    delete d;
    return nullptr;
  }
  if (!gcm) {
    d->rtpMac_.init(keys.rtpAuth, 20);
    d->rtcpMac_.init(keys.rtcpAuth, 20);
  }
  return d;
}

SrtpDirection::~SrtpDirection() {
  if (rtpCipher_) EVP_CIPHER_CTX_free(rtpCipher_);
  if (rtcpCipher_) EVP_CIPHER_CTX_free(rtcpCipher_);
}

bool SrtpDirection::cmXor(EVP_CIPHER_CTX* ctx, const uint8_t iv[16], uint8_t* p, int n) {
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv) != 1) return false;
  if (n <= 0) return true;
  int out = 0;
  return EVP_EncryptUpdate(ctx, p, &out, p, n) == 1 && out == n;
}

bool SrtpDirection::gcmSeal(EVP_CIPHER_CTX* ctx, const uint8_t iv[12], const uint8_t* aad, int aadLength, uint8_t* p, int n, uint8_t* tag) {
  int out = 0;
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv) != 1) return false;
  if (EVP_EncryptUpdate(ctx, nullptr, &out, aad, aadLength) != 1) return false;
  if (n > 0 && EVP_EncryptUpdate(ctx, p, &out, p, n) != 1) return false;
  uint8_t scratch[16];
  if (EVP_EncryptFinal_ex(ctx, scratch, &out) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
}

bool SrtpDirection::gcmOpen(EVP_CIPHER_CTX* ctx, const uint8_t iv[12], const uint8_t* aad, int aadLength, uint8_t* p, int n, const uint8_t* tag) {
  int out = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, iv) != 1) return false;
  if (EVP_DecryptUpdate(ctx, nullptr, &out, aad, aadLength) != 1) return false;
  if (n > 0 && EVP_DecryptUpdate(ctx, p, &out, p, n) != 1) return false;
  uint8_t t[16];
  std::memcpy(t, tag, 16);
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, t) != 1) return false;
  uint8_t scratch[16];
  return EVP_DecryptFinal_ex(ctx, scratch, &out) == 1;
}

/** RFC 3711 §3.3.1: the ROC a sequence number most likely belongs to; -1 below zero. */
static int64_t estimateRoc(uint32_t roc, uint16_t sl, uint16_t seq) {
  if (sl < 32768) {
    if (int(seq) - int(sl) > 32768) return int64_t(roc) - 1;
    return roc;
  }
  if (int(sl) - 32768 > int(seq)) return int64_t(roc) + 1;
  return roc;
}

static void cmIv(uint8_t iv[16], const uint8_t salt[14], uint32_t ssrc, uint32_t roc, uint16_t seq) {
  std::memset(iv, 0, 16);
  wr32(iv + 4, ssrc);
  wr32(iv + 8, roc);
  iv[12] = uint8_t(seq >> 8);
  iv[13] = uint8_t(seq);
  for (int i = 0; i < 14; i++) iv[i] ^= salt[i];
}

static void cmIvRtcp(uint8_t iv[16], const uint8_t salt[14], uint32_t ssrc, uint32_t index) {
  std::memset(iv, 0, 16);
  wr32(iv + 4, ssrc);
  wr32(iv + 10, index);
  for (int i = 0; i < 14; i++) iv[i] ^= salt[i];
}

static void gcmIv(uint8_t iv[12], const uint8_t salt[14], uint32_t ssrc, uint32_t hi, uint16_t lo) {
  iv[0] = iv[1] = 0;
  wr32(iv + 2, ssrc);
  wr32(iv + 6, hi);
  iv[10] = uint8_t(lo >> 8);
  iv[11] = uint8_t(lo);
  for (int i = 0; i < 12; i++) iv[i] ^= salt[i];
}

static void gcmIvRtcp(uint8_t iv[12], const uint8_t salt[14], uint32_t ssrc, uint32_t index) {
  std::memset(iv, 0, 12);
  wr32(iv + 2, ssrc);
  wr32(iv + 8, index);
  for (int i = 0; i < 12; i++) iv[i] ^= salt[i];
}

int SrtpDirection::protectRtp(uint8_t* buf, int length) {
  int hl = rtpHeaderLength(buf, length);
  if (hl < 0) return -1;
  uint32_t ssrc = rd32(buf + 8);
  uint16_t seq = uint16_t((buf[2] << 8) | buf[3]);
  auto it = rtp_.find(ssrc);
  if (it == rtp_.end()) {
    if (rtp_.size() >= kMaxSsrcs) return -1;
    it = rtp_.emplace(ssrc, RtpState()).first;
    it->second.sl = seq;
  }
  RtpState& s = it->second;
  int64_t v = estimateRoc(s.roc, s.sl, seq);
  if (v == int64_t(s.roc) + 1) {
    s.roc = uint32_t(v);
    s.sl = seq;
  } else if (v == s.roc && seq > s.sl) {
    s.sl = seq;
  }
  uint32_t roc = uint32_t(v);
  if (gcm_) {
    uint8_t iv[12];
    gcmIv(iv, rtpSalt_, ssrc, roc, seq);
    if (!gcmSeal(rtpCipher_, iv, buf, hl, buf + hl, length - hl, buf + length)) return -1;
    return length + 16;
  }
  uint8_t iv[16];
  cmIv(iv, rtpSalt_, ssrc, roc, seq);
  if (!cmXor(rtpCipher_, iv, buf + hl, length - hl)) return -1;
  uint8_t rocBytes[4], tag[20];
  wr32(rocBytes, roc);
  rtpMac_.mac(buf, length, rocBytes, 4, tag);
  std::memcpy(buf + length, tag, rtpTag_);
  return length + rtpTag_;
}

int SrtpDirection::unprotectRtp(uint8_t* buf, int length) {
  int end = length - rtpTag_;
  int hl = rtpHeaderLength(buf, end);
  if (hl < 0) return -1;
  uint32_t ssrc = rd32(buf + 8);
  uint16_t seq = uint16_t((buf[2] << 8) | buf[3]);
  auto it = rtp_.find(ssrc);
  bool fresh = it == rtp_.end();
  RtpState fresh_state;
  fresh_state.sl = seq;
  RtpState& s = fresh ? fresh_state : it->second;
  int64_t v = estimateRoc(s.roc, s.sl, seq);
  if (v < 0) return -3;
  uint32_t roc = uint32_t(v);
  int64_t index = int64_t(roc) * 65536 + seq;
  if (!fresh && !s.replay.check(index)) return -3;
  if (gcm_) {
    uint8_t iv[12];
    gcmIv(iv, rtpSalt_, ssrc, roc, seq);
    if (!gcmOpen(rtpCipher_, iv, buf, hl, buf + hl, end - hl, buf + end)) return -2;
  } else {
    uint8_t rocBytes[4], tag[20];
    wr32(rocBytes, roc);
    rtpMac_.mac(buf, end, rocBytes, 4, tag);
    if (CRYPTO_memcmp(tag, buf + end, rtpTag_) != 0) return -2;
    uint8_t iv[16];
    cmIv(iv, rtpSalt_, ssrc, roc, seq);
    if (!cmXor(rtpCipher_, iv, buf + hl, end - hl)) return -2;
  }
  RtpState* state = &s;
  if (fresh) {
    // Only an authenticated packet makes state; a peer with keys cannot make unbounded state either.
    if (rtp_.size() >= kMaxSsrcs) return -3;
    state = &rtp_.emplace(ssrc, fresh_state).first->second;
  }
  state->replay.accept(index);
  if (v == int64_t(state->roc) + 1) {
    state->roc = roc;
    state->sl = seq;
  } else if (v == state->roc && seq > state->sl) {
    state->sl = seq;
  }
  return end;
}

int SrtpDirection::protectRtcp(uint8_t* buf, int length) {
  if (length < 8) return -1;
  uint32_t ssrc = rd32(buf + 4);
  auto it = rtcp_.find(ssrc);
  if (it == rtcp_.end()) {
    if (rtcp_.size() >= kMaxSsrcs) return -1;
    it = rtcp_.emplace(ssrc, RtcpState()).first;
  }
  uint32_t index = it->second.next;
  it->second.next = (index + 1) & 0x7fffffff;
  uint32_t word = 0x80000000u | index;
  if (gcm_) {
    uint8_t aad[12], iv[12];
    std::memcpy(aad, buf, 8);
    wr32(aad + 8, word);
    gcmIvRtcp(iv, rtcpSalt_, ssrc, index);
    if (!gcmSeal(rtcpCipher_, iv, aad, 12, buf + 8, length - 8, buf + length)) return -1;
    wr32(buf + length + 16, word);
    return length + 20;
  }
  uint8_t iv[16], tag[20];
  cmIvRtcp(iv, rtcpSalt_, ssrc, index);
  if (!cmXor(rtcpCipher_, iv, buf + 8, length - 8)) return -1;
  wr32(buf + length, word);
  rtcpMac_.mac(buf, length + 4, nullptr, 0, tag);
  std::memcpy(buf + length + 4, tag, rtcpTag_);
  return length + 4 + rtcpTag_;
}

int SrtpDirection::unprotectRtcp(uint8_t* buf, int length) {
  if (length < 8 + 4 + rtcpTag_) return -1;
  int wordAt = gcm_ ? length - 4 : length - rtcpTag_ - 4;
  uint32_t word = rd32(buf + wordAt);
  bool encrypted = (word >> 31) == 1;
  uint32_t index = word & 0x7fffffff;
  uint32_t ssrc = rd32(buf + 4);
  auto it = rtcp_.find(ssrc);
  if (it != rtcp_.end() && it->second.seen && !it->second.replay.check(index)) return -3;
  int end;
  if (gcm_) {
    end = length - 4 - rtcpTag_;
    uint8_t iv[12];
    gcmIvRtcp(iv, rtcpSalt_, ssrc, index);
    bool ok;
    if (encrypted) {
      uint8_t aad[12];
      std::memcpy(aad, buf, 8);
      wr32(aad + 8, word);
      ok = gcmOpen(rtcpCipher_, iv, aad, 12, buf + 8, end - 8, buf + end);
    } else {
      // Unencrypted SRTCP (RFC 7714 §9.3): the whole packet and the word are AAD.
      uint8_t aad[1500 + 4];
      if (end + 4 > int(sizeof aad)) return -1;
      std::memcpy(aad, buf, end);
      wr32(aad + end, word);
      ok = gcmOpen(rtcpCipher_, iv, aad, end + 4, buf + end, 0, buf + end);
    }
    if (!ok) return -2;
  } else {
    end = wordAt;
    uint8_t tag[20];
    rtcpMac_.mac(buf, wordAt + 4, nullptr, 0, tag);
    if (CRYPTO_memcmp(tag, buf + wordAt + 4, rtcpTag_) != 0) return -2;
    if (encrypted) {
      uint8_t iv[16];
      cmIvRtcp(iv, rtcpSalt_, ssrc, index);
      if (!cmXor(rtcpCipher_, iv, buf + 8, end - 8)) return -2;
    }
  }
  if (it == rtcp_.end()) {
    if (rtcp_.size() >= kMaxSsrcs) return -3;
    it = rtcp_.emplace(ssrc, RtcpState()).first;
  }
  it->second.seen = true;
  it->second.replay.accept(index);
  return end;
}

}  // namespace rt
