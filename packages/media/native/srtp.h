// SRTP and SRTCP (RFC 3711, RFC 7714) over OpenSSL's AES and SHA-1 from Node's own
// headers: AES_CM_128_HMAC_SHA1_80/_32 and AEAD_AES_128/256_GCM. One SrtpDirection
// either protects (what we send) or unprotects (what the peer sends), in place.
// The same rules as src/srtp/SrtpContext.ts (the reference): a packet fails
// authentication or replay before any state changes.
#pragma once

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdint>
#include <cstring>
#include <unordered_map>

namespace rt {

enum SrtpProfileId : int {
  kAesCm128Sha80 = 1,
  kAesCm128Sha32 = 2,
  kAeadAes128Gcm = 7,
  kAeadAes256Gcm = 8,
};

/** Session keys of one direction (derived in JavaScript by src/srtp/kdf.ts). */
struct SessionKeys {
  uint8_t rtpKey[32], rtpSalt[14], rtpAuth[20];
  uint8_t rtcpKey[32], rtcpSalt[14], rtcpAuth[20];
};

/** Replay window of 1024 indices below the highest (RFC 3711 §3.3.2). */
struct ReplayWindow {
  static constexpr int64_t kSize = 1024;
  int64_t highest = -1;
  uint64_t bits[kSize / 64] = {0};
  bool check(int64_t index) const {
    if (index > highest) return true;
    int64_t delta = highest - index;
    if (delta >= kSize) return false;
    return (bits[delta >> 6] & (1ULL << (delta & 63))) == 0;
  }
  void accept(int64_t index) {
    if (index > highest) {
      int64_t shift = highest < 0 ? kSize : index - highest;
      shiftBy(shift);
      highest = index;
      bits[0] |= 1;
      return;
    }
    int64_t delta = highest - index;
    if (delta < kSize) bits[delta >> 6] |= 1ULL << (delta & 63);
  }

 private:
  void shiftBy(int64_t n) {
    constexpr int words = kSize / 64;
    if (n >= kSize) {
      std::memset(bits, 0, sizeof bits);
      return;
    }
    int ws = static_cast<int>(n >> 6), bs = static_cast<int>(n & 63);
    for (int i = words - 1; i >= 0; i--) {
      int from = i - ws;
      uint64_t v = from >= 0 ? bits[from] << bs : 0;
      if (bs != 0 && from - 1 >= 0) v |= bits[from - 1] >> (64 - bs);
      bits[i] = v;
    }
  }
};

/** HMAC-SHA1 with the key's inner and outer blocks absorbed once. */
class HmacSha1 {
 public:
  void init(const uint8_t* key, size_t length);
  /** HMAC over a[0, aLength) then b[0, bLength) (b may be null), 20 bytes into out. */
  void mac(const uint8_t* a, size_t aLength, const uint8_t* b, size_t bLength, uint8_t out[20]) const;

 private:
  SHA_CTX inner_{}, outer_{};
};

class SrtpDirection {
 public:
  /** Null when the profile is unknown or OpenSSL refuses the keys. */
  static SrtpDirection* create(int profile, const SessionKeys& keys, bool protect);
  ~SrtpDirection();
  SrtpDirection(const SrtpDirection&) = delete;
  SrtpDirection& operator=(const SrtpDirection&) = delete;

  int rtpOverhead() const { return rtpTag_; }
  int rtcpOverhead() const { return rtcpTag_ + 4; }

  /** Protects buf[0, length) (room for rtpOverhead() more): the SRTP length, or -1. */
  int protectRtp(uint8_t* buf, int length);
  /** Unprotects in place: the RTP length, or -1 truncated, -2 authentication, -3 replay. */
  int unprotectRtp(uint8_t* buf, int length);
  int protectRtcp(uint8_t* buf, int length);
  int unprotectRtcp(uint8_t* buf, int length);

 private:
  struct RtpState {
    uint32_t roc = 0;
    uint16_t sl = 0;
    ReplayWindow replay;
  };
  struct RtcpState {
    uint32_t next = 0;
    bool seen = false;
    ReplayWindow replay;
  };
  static constexpr size_t kMaxSsrcs = 256;

  SrtpDirection() = default;
  bool cmXor(EVP_CIPHER_CTX* ctx, const uint8_t iv[16], uint8_t* p, int n);
  bool gcmSeal(EVP_CIPHER_CTX* ctx, const uint8_t iv[12], const uint8_t* aad, int aadLength, uint8_t* p, int n, uint8_t* tag);
  bool gcmOpen(EVP_CIPHER_CTX* ctx, const uint8_t iv[12], const uint8_t* aad, int aadLength, uint8_t* p, int n, const uint8_t* tag);

  bool gcm_ = false;
  bool protect_ = false;
  int rtpTag_ = 0, rtcpTag_ = 0;
  uint8_t rtpSalt_[14] = {0}, rtcpSalt_[14] = {0};
  EVP_CIPHER_CTX* rtpCipher_ = nullptr;
  EVP_CIPHER_CTX* rtcpCipher_ = nullptr;
  HmacSha1 rtpMac_, rtcpMac_;
  std::unordered_map<uint32_t, RtpState> rtp_;
  std::unordered_map<uint32_t, RtcpState> rtcp_;
};

/** Length of the RTP header (fixed part, CSRCs, extension) of buf[0, length), or -1. */
int rtpHeaderLength(const uint8_t* buf, int length);

}  // namespace rt
