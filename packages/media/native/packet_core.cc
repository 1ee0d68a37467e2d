// The native packet core of the media engine (issue #19): a layer under
// src/transport/WebRtcTransport.ts. It owns the shared UDP sockets; one thread
// receives in batches (recvmmsg), hands STUN, DTLS and anything it does not route up to
// JavaScript, and for the transports JavaScript keyed: unprotects SRTP, routes RTP by
// the tables JavaScript sets (producer SSRC -> consumers and their rewrite state),
// rewrites headers, protects per consumer and sends in batches (sendmmsg). NACKs are
// answered from a per-producer ring; RTCP goes up decrypted. JavaScript reads counters.
//
// Threads: the receive thread and the JavaScript thread share the tables under one
// mutex; the receive thread holds it for one batch (receive, handle, send).
//
// JavaScript sinks (the element graph's bridges: the Composite, a recorder) meet the
// core both ways: a tapped producer hands its packets up (decrypted, unwrapped from RTX,
// in the receive batch's one upcall) while JavaScript has a sink on it; a fed producer
// has no transport: JavaScript hands its packets down (feed), and the core forwards them
// to its consumers as any producer's.

#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "rtp.h"
#include "srtp.h"

namespace rt {

constexpr int kBatch = 32;
constexpr int kSlotBytes = 1500 + 128;
constexpr int kOutBatch = 64;
// A video producer's last packets (NACK answers, duplicates), as Producer.buffer keeps 256
// in TypeScript: ~1 s at 2.5 Mbit/s, ~280 kB of packets a participant.
constexpr int kRingSize = 256;
constexpr int kHistory = 1024;
constexpr int kMaxNackGap = 100;
// A packet NACKed and not received is asked for again every kNackRetryMs, kNackTries times
// in all (a lost NACK or a lost retransmission is recovered too); at most kMaxNackGap wait.
constexpr double kNackRetryMs = 250;
constexpr int kNackTries = 4;
constexpr int kMaxUnknownPerSecond = 200;
// Transport-cc: the send times of the last this many transport-wide sequence numbers.
constexpr int kSentHistory = 8192;

static double nowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

enum EventType : int { kEvDatagram = 0, kEvRtcp = 1, kEvRtpUnknown = 2, kEvOutgoing = 3, kEvTapped = 4 };

struct Event {
  int type;
  uint32_t sock;
  uint32_t tid;
  std::vector<uint8_t> data;
  std::string ip;
  uint16_t port;
};

struct Address {
  sockaddr_storage ss;
  socklen_t len;
};

struct TupleKey {
  uint32_t sock;
  uint16_t port;
  uint8_t family;
  uint8_t addr[16];
  bool operator==(const TupleKey& o) const { return sock == o.sock && port == o.port && family == o.family && std::memcmp(addr, o.addr, 16) == 0; }
};
struct TupleHash {
  size_t operator()(const TupleKey& k) const {
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&h](uint8_t b) { h = (h ^ b) * 1099511628211ULL; };
    for (uint8_t b : k.addr) mix(b);
    mix(uint8_t(k.port)), mix(uint8_t(k.port >> 8)), mix(uint8_t(k.sock)), mix(k.family);
    return size_t(h);
  }
};

static TupleKey keyOf(uint32_t sock, const sockaddr_storage& ss) {
  TupleKey k{};
  k.sock = sock;
  if (ss.ss_family == AF_INET) {
    const sockaddr_in* a = reinterpret_cast<const sockaddr_in*>(&ss);
    k.family = 4;
    k.port = ntohs(a->sin_port);
    std::memcpy(k.addr, &a->sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    const sockaddr_in6* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    k.family = 6;
    k.port = ntohs(a->sin6_port);
    std::memcpy(k.addr, &a->sin6_addr, 16);
  }
  return k;
}

static bool parseAddress(const std::string& ip, uint16_t port, Address* out) {
  std::memset(out, 0, sizeof *out);
  sockaddr_in* a4 = reinterpret_cast<sockaddr_in*>(&out->ss);
  if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    out->len = sizeof(sockaddr_in);
    return true;
  }
  sockaddr_in6* a6 = reinterpret_cast<sockaddr_in6*>(&out->ss);
  if (inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    out->len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

static void addressText(const sockaddr_storage& ss, std::string* ip, uint16_t* port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const sockaddr_in* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    *port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const sockaddr_in6* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    *port = ntohs(a->sin6_port);
  } else {
    *port = 0;
  }
  *ip = text;
}

struct Socket {
  int fd = -1;
  uint16_t port = 0;
  double datagrams = 0, bytes = 0;
};

// Counters JavaScript reads, in the order of the arrays it gets.
struct TransportCounters {
  double rtpIn = 0, rtcpIn = 0, rtpOut = 0, rtcpOut = 0, droppedSrtp = 0, droppedUnknownSsrc = 0, droppedOther = 0, nativeNacksSent = 0;
  // droppedSrtp by reason (SrtpDirection's -1, -2, -3).
  double srtpTruncated = 0, srtpAuthFailures = 0, srtpReplayed = 0;
  void srtpDropped(int reason) {
    droppedSrtp++;
    if (reason == -1) srtpTruncated++;
    else if (reason == -2) srtpAuthFailures++;
    else srtpReplayed++;
  }
};

// One packet stamped with a transport-wide sequence number (transport-cc).
struct SentPacket {
  int32_t seq = -1;
  double at = 0;
  int size = 0;
};

struct Transport {
  uint32_t id = 0;
  uint32_t sock = 0;
  uint32_t rtcpSsrc = 0;
  bool hasTuple = false;
  Address tuple{};
  TupleKey tupleKey{};
  bool hooked = false;
  std::unique_ptr<SrtpDirection> in, out;
  std::unordered_map<uint32_t, uint32_t> producersBySsrc, producersByRtxSsrc, consumersBySsrc;
  TransportCounters counters;
  double unknownWindowAt = 0;
  int unknownInWindow = 0;
  // Transport-cc (WebRtcTransport's SendHistory): the next number, and what was sent when.
  uint16_t twccSeq = 0;
  std::vector<SentPacket> sent;
  bool canSend() const { return in && out && hasTuple; }
};

struct RingSlot {
  int32_t seq = -1;
  double at = 0;
  int length = 0;
  std::vector<uint8_t> data;  // the unprotected packet, header included
};

struct Producer {
  uint32_t id = 0, tid = 0;
  uint32_t ssrc = 0, rtxSsrc = 0;
  bool hasSsrc = false, hasRtxSsrc = false;
  int payloadType = 0, rtxPayloadType = -1;
  uint32_t clockRate = 90000;
  int codec = kCodecOther;
  bool video = false, nack = false, paused = false;
  // tapped: JavaScript has sinks on it (packets go up); fed: no transport, JavaScript feeds it.
  bool tapped = false, fed = false;
  std::vector<uint32_t> consumers;
  // Receive statistics (RFC 3550 §6.4.1), as Producer.ts keeps them.
  bool started = false;
  uint16_t highestSeq = 0, baseSeq = 0;
  double cycles = 0;
  bool hasTransit = false;
  double transit = 0, jitter = 0;
  double packets = 0, bytes = 0, lost = 0, duplicates = 0, rtxReceived = 0, nacksSent = 0, nackedPackets = 0;
  // The audio level extension (RFC 6464), when negotiated: the loudest level (-dBov, 0
  // loudest, 127 silence) and the packets with a level since JavaScript last read them.
  int audioLevelId = 0, loudest = 127;
  double levelPackets = 0, voicePackets = 0;
  std::vector<RingSlot> ring;
  // Packets NACKed and not received yet, oldest first (see kNackRetryMs).
  struct Missing {
    uint16_t seq;
    int tries;
    double at;
  };
  std::vector<Missing> missing;
  double retryCheckedAt = 0;
};

// Resends of one packet within a round trip at most (see Consumer.ts RESENDS_PER_ROUND_TRIP).
static const uint8_t kResendsPerRoundTrip = 3;

struct HistoryEntry {
  int32_t outSeq = -1;
  uint16_t inSeq = 0;
  // Resends in the current round-trip window (0: never resent), and when that window began
  // (nowMs() modulo 2^32: 16 bytes an entry, not 24).
  uint8_t resends = 0;
  uint32_t tsOffset = 0;
  uint32_t resentAt = 0;
};
static_assert(sizeof(HistoryEntry) == 16, "a consumer keeps kHistory of these");

// The least time between two resends of one packet until JavaScript gives the round trip
// (RESEND_DEFAULT_RTT_MS in Consumer.ts).
constexpr double kResendDefaultRttMs = 100;

struct Consumer {
  uint32_t id = 0, pid = 0, tid = 0, ssrc = 0;
  int payloadType = 0;
  uint32_t clockRate = 90000;
  int codec = kCodecOther;
  bool video = false, paused = false, awaitingKeyframe = false;
  // The transport-cc extension id its m-line took (0: packets go without it).
  int twccId = 0;
  // The rewrite state (StreamRewriter.ts with one source stream).
  bool started = false;
  uint16_t baseInSeq = 0, seqOffset = 0, lastSeq = 0;
  uint32_t tsOffset = 0, lastTs = 0;
  double lastAt = 0;
  double packets = 0, bytes = 0, droppedAwaitingKeyframe = 0, droppedBeforeStart = 0, nacksReceived = 0, retransmitted = 0, retransmitMisses = 0, retransmitsSkipped = 0;
  // NACK answers (StreamRewriter.resendable in TypeScript): a packet is resent at most once
  // per resendIntervalMs (the round trip), and never one fed before resendFloor (the
  // simulcast consumer's last layer switch, in the fed sequence numbers).
  double resendIntervalMs = kResendDefaultRttMs;
  bool hasResendFloor = false;
  uint16_t resendFloor = 0;
  std::vector<HistoryEntry> history;
};

struct OutPacket {
  uint32_t sock;
  Address to;
  int length;
  uint8_t data[kSlotBytes];
};

struct CoreCounters {
  double datagrams = 0, bytes = 0, batches = 0, upcalls = 0, forwarded = 0, sendBatches = 0, sendErrors = 0, tapped = 0, fed = 0;
};

class Core {
 public:
  std::mutex mu;
  std::vector<Socket> sockets;
  std::unordered_map<uint32_t, std::unique_ptr<Transport>> transports;
  std::unordered_map<uint32_t, std::unique_ptr<Producer>> producers;
  std::unordered_map<uint32_t, std::unique_ptr<Consumer>> consumers;
  std::unordered_map<TupleKey, uint32_t, TupleHash> tuples;
  uint32_t nextId = 1;
  CoreCounters counters;

  int epfd = -1, wakefd = -1;
  std::thread thread;
  std::atomic<bool> running{false};
  bool closed = false;
  bool hooked = false;  // the env cleanup hook is registered
  napi_env env = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  std::vector<Event>* pending = nullptr;

  std::vector<OutPacket> outs = std::vector<OutPacket>(kOutBatch);
  int nOut = 0;
  uint8_t scratch[kSlotBytes];

  // --- receive thread ---------------------------------------------------------------

  void run() {
    std::vector<uint8_t> bufs(size_t(kBatch) * kSlotBytes);
    mmsghdr msgs[kBatch];
    iovec iovs[kBatch];
    sockaddr_storage from[kBatch];
    epoll_event evs[16];
    while (running.load()) {
      int n = epoll_wait(epfd, evs, 16, 1000);
      if (n < 0 && errno != EINTR) break;
      for (int e = 0; e < n; e++) {
        if (evs[e].data.u32 == UINT32_MAX) {
          uint64_t v;
          if (read(wakefd, &v, sizeof v) < 0) { /* nothing to drain */ }
          continue;
        }
        uint32_t sock = evs[e].data.u32;
        for (int rounds = 0; rounds < 8; rounds++) {
          std::lock_guard<std::mutex> lock(mu);
          if (sock >= sockets.size() || sockets[sock].fd < 0) break;
          for (int i = 0; i < kBatch; i++) {
            iovs[i].iov_base = bufs.data() + size_t(i) * kSlotBytes;
            iovs[i].iov_len = 1500 + 64;  // room left for an SRTP tag in the slot
            std::memset(&msgs[i].msg_hdr, 0, sizeof(msghdr));
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
          }
          int r = recvmmsg(sockets[sock].fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
          if (r <= 0) break;
          counters.batches++;
          for (int i = 0; i < r; i++) {
            int length = int(msgs[i].msg_len);
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) length = 0;  // larger than any datagram of ours: malformed
            handleDatagram(sock, bufs.data() + size_t(i) * kSlotBytes, length, from[i]);
          }
          flushLocked();
          postLocked();
          if (r < kBatch) break;
        }
      }
    }
  }

  void handleDatagram(uint32_t sock, uint8_t* data, int length, const sockaddr_storage& from) {
    counters.datagrams++;
    counters.bytes += length;
    sockets[sock].datagrams++;
    sockets[sock].bytes += length;
    if (length > 0 && data[0] >= 128 && data[0] <= 191) {
      auto it = tuples.find(keyOf(sock, from));
      if (it != tuples.end()) {
        auto t = transports.find(it->second);
        if (t != transports.end() && t->second->in && !t->second->hooked) {
          handleSrtp(*t->second, data, length);
          return;
        }
      }
    }
    Event ev;
    ev.type = kEvDatagram;
    ev.sock = sock;
    ev.tid = 0;
    ev.data.assign(data, data + (length > 0 ? length : 0));
    addressText(from, &ev.ip, &ev.port);
    up(std::move(ev));
  }

  void up(Event&& ev) {
    if (!pending) pending = new std::vector<Event>();
    pending->push_back(std::move(ev));
  }

  void postLocked() {
    if (!pending) return;
    std::vector<Event>* batch = pending;
    pending = nullptr;
    counters.upcalls++;
    if (!tsfn || napi_call_threadsafe_function(tsfn, batch, napi_tsfn_nonblocking) != napi_ok) delete batch;
  }

  // --- SRTP in ----------------------------------------------------------------------

  /** An SRTP or SRTCP datagram of a keyed transport: data has room for kSlotBytes. */
  void handleSrtp(Transport& t, uint8_t* data, int length) {
    uint8_t second = length > 1 ? data[1] : 0;
    if (second >= 192 && second <= 223) {
      int n = t.in->unprotectRtcp(data, length);
      if (n < 0) {
        t.counters.srtpDropped(n);
        return;
      }
      t.counters.rtcpIn++;
      handleRtcp(t, data, n);
      Event ev;
      ev.type = kEvRtcp;
      ev.sock = t.sock;
      ev.tid = t.id;
      ev.data.assign(data, data + n);
      ev.port = 0;
      up(std::move(ev));
      return;
    }
    int n = t.in->unprotectRtp(data, length);
    if (n < 0) {
      t.counters.srtpDropped(n);
      return;
    }
    RtpView v;
    if (!readRtp(data, n, &v)) {
      t.counters.droppedOther++;
      return;
    }
    t.counters.rtpIn++;
    routeRtp(t, v, true);
  }

  /** An unprotected RTP packet of transport t: to its producer, or up when its SSRC is unknown. */
  void routeRtp(Transport& t, RtpView& v, bool upIfUnknown) {
    double now = nowMs();
    auto it = t.producersBySsrc.find(v.ssrc);
    if (it != t.producersBySsrc.end()) {
      auto p = producers.find(it->second);
      if (p != producers.end()) producerReceive(*p->second, v, now, false);
      return;
    }
    it = t.producersByRtxSsrc.find(v.ssrc);
    if (it != t.producersByRtxSsrc.end()) {
      auto pi = producers.find(it->second);
      if (pi == producers.end()) return;
      Producer& p = *pi->second;
      if (v.payloadType != p.rtxPayloadType || !p.hasSsrc) return;
      // RTX (RFC 4588): the original sequence number leads the payload.
      int payload = v.payloadLength();
      if (payload < 3) return;
      int hl = v.payloadOffset;
      int outLength = hl + payload - 2;
      if (outLength > kSlotBytes) return;
      uint8_t* o = scratch;
      std::memmove(o, v.data, hl);
      o[0] = o[0] & ~0x20;
      o[1] = uint8_t((o[1] & 0x80) | (p.payloadType & 0x7f));
      o[2] = v.data[hl];
      o[3] = v.data[hl + 1];
      wr32(o + 8, p.ssrc);
      std::memmove(o + hl, v.data + hl + 2, payload - 2);
      RtpView original;
      if (readRtp(o, outLength, &original)) producerReceive(p, original, now, true);
      return;
    }
    if (!upIfUnknown) {
      t.counters.droppedUnknownSsrc++;
      return;
    }
    // Bound what an authenticated peer can make JavaScript do per second.
    if (now - t.unknownWindowAt > 1000) {
      t.unknownWindowAt = now;
      t.unknownInWindow = 0;
    }
    if (++t.unknownInWindow > kMaxUnknownPerSecond) {
      t.counters.droppedUnknownSsrc++;
      return;
    }
    Event ev;
    ev.type = kEvRtpUnknown;
    ev.sock = t.sock;
    ev.tid = t.id;
    ev.data.assign(v.data, v.data + v.end);
    ev.port = 0;
    up(std::move(ev));
  }

  void producerReceive(Producer& p, RtpView& v, double now, bool retransmission) {
    RingSlot* slot = p.ring.empty() ? nullptr : &p.ring[v.seq % kRingSize];
    if (slot && slot->seq == v.seq && now - slot->at < 5000) {
      p.duplicates++;
      return;
    }
    if (retransmission) p.rtxReceived++;
    if (p.audioLevelId > 0 && !retransmission) {
      int level = readExtensionByte(v, p.audioLevelId);
      if (level >= 0) {
        p.levelPackets++;
        if (level & 0x80) p.voicePackets++;
        if ((level & 0x7f) < p.loudest) p.loudest = level & 0x7f;
      }
    }
    p.packets++;
    p.bytes += v.end - v.payloadOffset;
    track(p, v.seq, v.timestamp, now);
    if (slot) {
      if (slot->data.size() < size_t(v.end)) slot->data.resize(size_t(v.end));
      std::memcpy(slot->data.data(), v.data, size_t(v.end));
      slot->length = v.end;
      slot->seq = v.seq;
      slot->at = now;
    }
    if (p.paused) return;
    for (uint32_t cid : p.consumers) {
      auto c = consumers.find(cid);
      if (c != consumers.end()) consumerForward(*c->second, v, now);
    }
    if (p.tapped) {
      // Up to JavaScript's sinks, in this batch's one upcall; port carries the RTX flag.
      counters.tapped++;
      Event ev;
      ev.type = kEvTapped;
      ev.sock = 0;
      ev.tid = p.id;
      ev.data.assign(v.data, v.data + v.end);
      ev.port = retransmission ? 1 : 0;
      up(std::move(ev));
    }
  }

  void track(Producer& p, uint16_t seq, uint32_t timestamp, double now) {
    double arrival = now * p.clockRate / 1000.0;
    double transit = arrival - double(timestamp);
    if (p.hasTransit) {
      double d = transit - p.transit;
      if (d < 0) d = -d;
      if (d < double(p.clockRate) * 10) p.jitter += (d - p.jitter) / 16;
    }
    p.transit = transit;
    p.hasTransit = true;
    if (!p.missing.empty()) {
      for (size_t i = 0; i < p.missing.size(); i++) {
        if (p.missing[i].seq == seq) {
          p.missing.erase(p.missing.begin() + long(i));
          break;
        }
      }
    }
    if (!p.started) {
      p.started = true;
      p.highestSeq = seq;
      p.baseSeq = seq;
      return;
    }
    int d = seqDiff(seq, p.highestSeq);
    if (d > 0) {
      if (seq < p.highestSeq) p.cycles++;
      if (d > 1) {
        p.lost += d - 1;
        if (d - 1 <= kMaxNackGap && p.hasSsrc && p.nack) {
          p.nacksSent++;
          p.nackedPackets += d - 1;
          uint16_t lost[kMaxNackGap];
          for (int i = 0; i < d - 1; i++) {
            lost[i] = uint16_t(p.highestSeq + 1 + i);
            p.missing.push_back({lost[i], 1, now});
          }
          if (p.missing.size() > size_t(kMaxNackGap)) p.missing.erase(p.missing.begin(), p.missing.end() - kMaxNackGap);
          sendNack(p, lost, d - 1);
        }
      }
      p.highestSeq = seq;
    } else if (p.lost > 0) {
      p.lost--;
    }
    retryNacks(p, now);
  }

  /** Asks again for the packets NACKed kNackRetryMs ago and still missing; forgets those asked kNackTries times. */
  void retryNacks(Producer& p, double now) {
    if (p.missing.empty() || now - p.retryCheckedAt < 20) return;
    p.retryCheckedAt = now;
    uint16_t again[kMaxNackGap];
    int n = 0;
    size_t kept = 0;
    for (size_t i = 0; i < p.missing.size(); i++) {
      Producer::Missing m = p.missing[i];
      if (now - m.at >= kNackRetryMs) {
        if (m.tries >= kNackTries) continue;
        m.tries++;
        m.at = now;
        if (n < kMaxNackGap) again[n++] = m.seq;
      }
      p.missing[kept++] = m;
    }
    p.missing.resize(kept);
    if (n == 0) return;
    p.nacksSent++;
    p.nackedPackets += n;
    sendNack(p, again, n);
  }

  /** A generic NACK (RFC 4585 §6.2.1) for count (<= kMaxNackGap) packets in sending order, to the producer's sender. */
  void sendNack(Producer& p, const uint16_t* seqs, int count) {
    auto ti = transports.find(p.tid);
    if (ti == transports.end() || !ti->second->canSend()) return;
    Transport& t = *ti->second;
    uint8_t buf[12 + 4 * kMaxNackGap];
    int items = 0;
    for (int i = 0; i < count;) {
      uint16_t pid = seqs[i];
      uint16_t blp = 0;
      int j = 1;
      for (; i + j < count; j++) {
        int bit = seqDiff(seqs[i + j], pid);
        if (bit < 1 || bit > 16) break;
        blp |= uint16_t(1 << (bit - 1));
      }
      wr16(buf + 12 + items * 4, pid);
      wr16(buf + 14 + items * 4, blp);
      items++;
      i += j;
    }
    int length = 12 + items * 4;
    buf[0] = 0x80 | 1;
    buf[1] = 205;
    wr16(buf + 2, uint16_t(length / 4 - 1));
    wr32(buf + 4, t.rtcpSsrc);
    wr32(buf + 8, p.ssrc);
    if (sendRtcpLocked(t, buf, length)) t.counters.nativeNacksSent++;
  }

  void consumerForward(Consumer& c, RtpView& v, double now) {
    if (c.paused) return;
    auto ti = transports.find(c.tid);
    if (ti == transports.end() || !ti->second->canSend()) {
      // Whatever reaches the subscriber first after the gap must be a keyframe.
      if (c.video) c.awaitingKeyframe = true;
      return;
    }
    if (c.awaitingKeyframe) {
      if (!isKeyframe(c.codec, v.data + v.payloadOffset, v.payloadLength())) {
        c.droppedAwaitingKeyframe++;
        return;
      }
      c.awaitingKeyframe = false;
    }
    if (c.started && seqDiff(v.seq, c.baseInSeq) < 0) {
      c.droppedBeforeStart++;
      return;
    }
    if (!c.started) {
      c.baseInSeq = v.seq;
      c.seqOffset = uint16_t(c.lastSeq + 1 - v.seq);
      c.tsOffset = c.lastTs - v.timestamp;
    }
    uint16_t seq = uint16_t(v.seq + c.seqOffset);
    uint32_t ts = v.timestamp + c.tsOffset;
    if (!c.started || seqDiff(seq, c.lastSeq) > 0) {
      c.lastSeq = seq;
      c.lastTs = ts;
      c.lastAt = now;
    }
    c.started = true;
    if (!c.history.empty()) {
      HistoryEntry& h = c.history[seq % kHistory];
      h.outSeq = seq;
      h.inSeq = v.seq;
      h.tsOffset = c.tsOffset;
      h.resends = 0;
    }
    if (sendForwarded(*ti->second, v, c.payloadType, seq, ts, c.ssrc, c.twccId)) {
      c.packets++;
      c.bytes += v.end - v.payloadOffset;
    }
  }

  // --- send -------------------------------------------------------------------------

  OutPacket* nextOut() {
    if (nOut == kOutBatch) flushLocked();
    return &outs[nOut];
  }

  /**
   * Writes a forwarded packet, protects it and queues it. No header extensions but
   * transport-cc's when twccId is set: one one-byte-header block (RFC 8285) with the
   * transport's next transport-wide number, whose send time and size are kept for the
   * feedback (JavaScript reads them: sentPackets).
   */
  bool sendForwarded(Transport& t, const RtpView& v, int payloadType, uint16_t seq, uint32_t ts, uint32_t ssrc, int twccId) {
    int cc = v.csrcCount;
    int payloadLength = v.end - v.payloadOffset;
    int extension = twccId > 0 ? 8 : 0;
    int length = 12 + cc * 4 + extension + payloadLength;
    if (length + t.out->rtpOverhead() > kSlotBytes) return false;
    OutPacket* o = nextOut();
    uint8_t* b = o->data;
    b[0] = uint8_t(0x80 | (v.padding ? 0x20 : 0) | (extension ? 0x10 : 0) | cc);
    b[1] = uint8_t((v.marker ? 0x80 : 0) | (payloadType & 0x7f));
    wr16(b + 2, seq);
    wr32(b + 4, ts);
    wr32(b + 8, ssrc);
    if (cc > 0) std::memcpy(b + 12, v.data + 12, size_t(cc) * 4);
    int at = 12 + cc * 4;
    uint16_t twccSeq = 0;
    if (extension) {
      twccSeq = t.twccSeq++;
      wr32(b + at, 0xbede0001u);
      b[at + 4] = uint8_t((twccId << 4) | 1);
      wr16(b + at + 5, twccSeq);
      b[at + 7] = 0;
    }
    std::memcpy(b + at + extension, v.data + v.payloadOffset, size_t(payloadLength));
    int n = t.out->protectRtp(b, length);
    if (n < 0) return false;
    if (extension) {
      if (t.sent.empty()) t.sent.resize(kSentHistory);
      SentPacket& s = t.sent[twccSeq % kSentHistory];
      s.seq = twccSeq;
      s.at = nowMs();
      s.size = n;
    }
    counters.forwarded++;
    if (t.hooked) {
      // Tests only: JavaScript decides whether this packet is lost, then sends it.
      Event ev;
      ev.type = kEvOutgoing;
      ev.sock = t.sock;
      ev.tid = t.id;
      ev.data.assign(b, b + n);
      ev.port = 0;
      up(std::move(ev));
      return true;
    }
    o->sock = t.sock;
    o->to = t.tuple;
    o->length = n;
    nOut++;
    t.counters.rtpOut++;
    return true;
  }

  bool sendRtcpLocked(Transport& t, const uint8_t* data, int length) {
    if (!t.canSend() || length < 8 || length + t.out->rtcpOverhead() > kSlotBytes) return false;
    OutPacket* o = nextOut();
    std::memcpy(o->data, data, size_t(length));
    int n = t.out->protectRtcp(o->data, length);
    if (n < 0) return false;
    o->sock = t.sock;
    o->to = t.tuple;
    o->length = n;
    nOut++;
    t.counters.rtcpOut++;
    return true;
  }

  void flushLocked() {
    int at = 0;
    while (at < nOut) {
      uint32_t sock = outs[at].sock;
      mmsghdr msgs[kOutBatch];
      iovec iovs[kOutBatch];
      int k = 0;
      while (at + k < nOut && outs[at + k].sock == sock) {
        OutPacket& o = outs[at + k];
        iovs[k].iov_base = o.data;
        iovs[k].iov_len = size_t(o.length);
        std::memset(&msgs[k].msg_hdr, 0, sizeof(msghdr));
        msgs[k].msg_hdr.msg_iov = &iovs[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
        msgs[k].msg_hdr.msg_name = &o.to.ss;
        msgs[k].msg_hdr.msg_namelen = o.to.len;
        k++;
      }
      if (sock < sockets.size() && sockets[sock].fd >= 0) {
        int done = 0;
        while (done < k) {
          int r = sendmmsg(sockets[sock].fd, msgs + done, unsigned(k - done), MSG_DONTWAIT);
          counters.sendBatches++;
          if (r <= 0) {
            // A full buffer or an unreachable peer: the rest of this run is lost, as UDP may.
            counters.sendErrors += k - done;
            break;
          }
          done += r;
        }
      }
      at += k;
    }
    nOut = 0;
  }

  // --- RTCP in ----------------------------------------------------------------------

  /** Generic NACKs naming our consumers are answered here; everything goes up as well. */
  void handleRtcp(Transport& t, const uint8_t* data, int length) {
    int at = 0;
    while (at + 4 <= length) {
      uint8_t b0 = data[at];
      if ((b0 >> 6) != 2) return;
      int words = rd16(data + at + 2);
      int end = at + 4 + words * 4;
      if (end > length) return;
      int pt = data[at + 1];
      int fmt = b0 & 0x1f;
      if (pt == 205 && fmt == 1 && end - at >= 12) {
        uint32_t media = rd32(data + at + 8);
        auto ci = t.consumersBySsrc.find(media);
        if (ci != t.consumersBySsrc.end()) {
          auto c = consumers.find(ci->second);
          if (c != consumers.end()) answerNack(t, *c->second, data + at + 12, end - at - 12);
        }
      }
      at = end;
    }
  }

  void answerNack(Transport& t, Consumer& c, const uint8_t* fci, int length) {
    c.nacksReceived++;
    auto pi = producers.find(c.pid);
    Producer* p = pi == producers.end() ? nullptr : pi->second.get();
    uint32_t now32 = uint32_t(uint64_t(nowMs()));
    for (int i = 0; i + 4 <= length; i += 4) {
      uint16_t pid = rd16(fci + i);
      uint16_t blp = rd16(fci + i + 2);
      for (int b = -1; b < 16; b++) {
        if (b >= 0 && !(blp & (1 << b))) continue;
        uint16_t seq = uint16_t(pid + b + 1);
        if (c.history.empty()) {
          c.retransmitMisses++;
          continue;
        }
        HistoryEntry& h = c.history[seq % kHistory];
        RingSlot* slot = (p && !p->ring.empty()) ? &p->ring[h.inSeq % kRingSize] : nullptr;
        RtpView v;
        if (h.outSeq != int32_t(seq) || !slot || slot->seq != int32_t(h.inSeq) || !readRtp(slot->data.data(), slot->length, &v)) {
          c.retransmitMisses++;
          continue;
        }
        bool inWindow = h.resends > 0 && double(now32 - h.resentAt) < c.resendIntervalMs;
        if ((c.hasResendFloor && seqDiff(h.inSeq, c.resendFloor) < 0) || (inWindow && h.resends >= kResendsPerRoundTrip)) {
          c.retransmitsSkipped++;
          continue;
        }
        if (!t.canSend()) continue;
        if (inWindow) {
          h.resends++;
        } else {
          h.resends = 1;
          h.resentAt = now32;
        }
        if (sendForwarded(t, v, c.payloadType, seq, v.timestamp + h.tsOffset, c.ssrc, c.twccId)) c.retransmitted++;
      }
    }
  }

  // --- tables, from JavaScript -----------------------------------------------------

  void removeConsumerLocked(uint32_t cid) {
    auto c = consumers.find(cid);
    if (c == consumers.end()) return;
    auto p = producers.find(c->second->pid);
    if (p != producers.end()) {
      auto& list = p->second->consumers;
      for (size_t i = 0; i < list.size(); i++) {
        if (list[i] == cid) {
          list.erase(list.begin() + long(i));
          break;
        }
      }
    }
    auto t = transports.find(c->second->tid);
    if (t != transports.end()) {
      auto s = t->second->consumersBySsrc.find(c->second->ssrc);
      if (s != t->second->consumersBySsrc.end() && s->second == cid) t->second->consumersBySsrc.erase(s);
    }
    consumers.erase(c);
  }

  void removeProducerLocked(uint32_t pid) {
    auto p = producers.find(pid);
    if (p == producers.end()) return;
    std::vector<uint32_t> list = p->second->consumers;
    for (uint32_t cid : list) removeConsumerLocked(cid);
    auto t = transports.find(p->second->tid);
    if (t != transports.end()) {
      for (auto* map : {&t->second->producersBySsrc, &t->second->producersByRtxSsrc}) {
        for (auto it = map->begin(); it != map->end();) it = it->second == pid ? map->erase(it) : std::next(it);
      }
    }
    producers.erase(p);
  }

  void clearTupleLocked(Transport& t) {
    if (!t.hasTuple) return;
    auto it = tuples.find(t.tupleKey);
    if (it != tuples.end() && it->second == t.id) tuples.erase(it);
    t.hasTuple = false;
  }

  void removeTransportLocked(uint32_t tid) {
    auto t = transports.find(tid);
    if (t == transports.end()) return;
    std::vector<uint32_t> ps, cs;
    for (auto& p : producers)
      if (p.second->tid == tid) ps.push_back(p.first);
    for (auto& c : consumers)
      if (c.second->tid == tid) cs.push_back(c.first);
    for (uint32_t cid : cs) removeConsumerLocked(cid);
    for (uint32_t pid : ps) removeProducerLocked(pid);
    clearTupleLocked(*t->second);
    transports.erase(t);
  }

  void stop() {
    if (running.exchange(false)) {
      uint64_t one = 1;
      if (write(wakefd, &one, sizeof one) < 0) { /* the thread wakes within its epoll timeout */ }
      if (thread.joinable()) thread.join();
    }
  }

  void closeAll() {
    if (closed) return;
    closed = true;
    stop();
    std::lock_guard<std::mutex> lock(mu);
    for (Socket& s : sockets) {
      if (s.fd >= 0) close(s.fd);
      s.fd = -1;
    }
    transports.clear();
    producers.clear();
    consumers.clear();
    tuples.clear();
    delete pending;
    pending = nullptr;
    if (epfd >= 0) close(epfd);
    if (wakefd >= 0) close(wakefd);
    epfd = wakefd = -1;
    if (tsfn) {
      napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
      tsfn = nullptr;
    }
  }
};

// --- Node-API ---------------------------------------------------------------------------

static napi_value undefinedValue(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

static napi_value throwError(napi_env env, const char* code, const char* message) {
  napi_throw_error(env, code, message);
  return nullptr;
}

struct Args {
  napi_env env;
  size_t argc = 16;
  napi_value argv[16];
  napi_value self;
  Core* core = nullptr;
  bool ok = true;

  Args(napi_env e, napi_callback_info info) : env(e) {
    napi_get_cb_info(env, info, &argc, argv, &self, nullptr);
    if (napi_unwrap(env, self, reinterpret_cast<void**>(&core)) != napi_ok || !core) ok = false;
  }
  uint32_t u32(size_t i) {
    uint32_t v = 0;
    if (i >= argc || napi_get_value_uint32(env, argv[i], &v) != napi_ok) ok = false;
    return v;
  }
  double f64(size_t i) {
    double v = 0;
    if (i >= argc || napi_get_value_double(env, argv[i], &v) != napi_ok) ok = false;
    return v;
  }
  bool boolean(size_t i) {
    bool v = false;
    if (i >= argc || napi_get_value_bool(env, argv[i], &v) != napi_ok) ok = false;
    return v;
  }
  std::string str(size_t i) {
    char buf[256];
    size_t n = 0;
    if (i >= argc || napi_get_value_string_utf8(env, argv[i], buf, sizeof buf, &n) != napi_ok) {
      ok = false;
      return std::string();
    }
    return std::string(buf, n);
  }
  uint8_t* bytes(size_t i, size_t* length) {
    void* data = nullptr;
    bool is = false;
    *length = 0;
    if (i >= argc || napi_is_buffer(env, argv[i], &is) != napi_ok || !is || napi_get_buffer_info(env, argv[i], &data, length) != napi_ok) {
      ok = false;
      return nullptr;
    }
    return static_cast<uint8_t*>(data);
  }
};

#define CORE_ARGS(name)                                                          \
  Args name(env, info);                                                          \
  if (!name.ok) return throwError(env, "ERR_INVALID_THIS", "not a PacketCore");  \
  if (name.core->closed) return throwError(env, "ERR_CLOSED", "the packet core is closed")

static napi_value numbers(napi_env env, const double* values, size_t n) {
  napi_value arr;
  napi_create_array_with_length(env, n, &arr);
  for (size_t i = 0; i < n; i++) {
    napi_value v;
    napi_create_double(env, values[i], &v);
    napi_set_element(env, arr, uint32_t(i), v);
  }
  return arr;
}

static napi_value u32Value(napi_env env, uint32_t n) {
  napi_value v;
  napi_create_uint32(env, n, &v);
  return v;
}

static void callJs(napi_env env, napi_value callback, void* context, void* data) {
  (void)context;
  std::vector<Event>* batch = static_cast<std::vector<Event>*>(data);
  if (env == nullptr || callback == nullptr) {
    delete batch;
    return;
  }
  napi_value arr;
  napi_create_array_with_length(env, batch->size() * 5, &arr);
  uint32_t k = 0;
  for (Event& ev : *batch) {
    napi_value type, id, buf, ip, port;
    napi_create_uint32(env, uint32_t(ev.type), &type);
    // The socket of a datagram, the producer of a tapped packet, else the transport.
    napi_create_uint32(env, ev.type == kEvDatagram ? ev.sock : ev.tid, &id);
    void* out = nullptr;
    napi_create_buffer_copy(env, ev.data.size(), ev.data.empty() ? "" : reinterpret_cast<const char*>(ev.data.data()), &out, &buf);
    napi_create_string_utf8(env, ev.ip.c_str(), ev.ip.size(), &ip);
    napi_create_uint32(env, ev.port, &port);
    napi_set_element(env, arr, k++, type);
    napi_set_element(env, arr, k++, id);
    napi_set_element(env, arr, k++, buf);
    napi_set_element(env, arr, k++, ip);
    napi_set_element(env, arr, k++, port);
  }
  delete batch;
  napi_value global, result;
  napi_get_global(env, &global);
  // A listener's exception is the listener's: it must not leave an exception pending here.
  if (napi_call_function(env, global, callback, 1, &arr, &result) != napi_ok) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
  }
}

static void cleanupHook(void* arg);

static void unhook(Core* core) {
  if (!core->hooked) return;
  core->hooked = false;
  napi_remove_env_cleanup_hook(core->env, cleanupHook, core);
}

static void finalizeCore(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  Core* core = static_cast<Core*>(data);
  unhook(core);
  core->closeAll();
  delete core;
}

/** The environment ends (a worker thread, the process): stop the thread and let the function go before Node frees it. */
static void cleanupHook(void* arg) {
  Core* core = static_cast<Core*>(arg);
  core->hooked = false;
  core->closeAll();
}

/** new PacketCore(onEvents): onEvents(flat [type, id, buffer, ip, port, ...]) per batch. */
static napi_value New(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  napi_get_cb_info(env, info, &argc, argv, &self, nullptr);
  napi_valuetype type;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) return throwError(env, "ERR_INVALID_ARG_TYPE", "PacketCore needs an event callback");
  Core* core = new Core();
  core->epfd = epoll_create1(EPOLL_CLOEXEC);
  core->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (core->epfd < 0 || core->wakefd < 0) {
    core->closeAll();
    delete core;
    return throwError(env, "ERR_PACKET_CORE", "epoll or eventfd failed");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = UINT32_MAX;
  epoll_ctl(core->epfd, EPOLL_CTL_ADD, core->wakefd, &ev);
  napi_value name;
  napi_create_string_utf8(env, "roundtable-packet-core", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], nullptr, name, 0, 1, nullptr, nullptr, nullptr, callJs, &core->tsfn) != napi_ok) {
    core->closeAll();
    delete core;
    return throwError(env, "ERR_PACKET_CORE", "threadsafe function failed");
  }
  // The core never keeps the process alive: its sockets' owners do.
  napi_unref_threadsafe_function(env, core->tsfn);
  napi_wrap(env, self, core, finalizeCore, nullptr, nullptr);
  core->env = env;
  core->hooked = napi_add_env_cleanup_hook(env, cleanupHook, core) == napi_ok;
  core->running = true;
  core->thread = std::thread([core] { core->run(); });
  return self;
}

/** openSocket(address, port) -> socket index; throws with code EADDRINUSE, EADDRNOTAVAIL... */
static napi_value OpenSocket(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  std::string ip = a.str(0);
  uint32_t port = a.u32(1);
  Address addr;
  if (!a.ok || port > 65535 || !parseAddress(ip, uint16_t(port), &addr)) return throwError(env, "ERR_INVALID_ARG_VALUE", "openSocket(address, port)");
  int fd = socket(addr.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throwError(env, "ERR_SOCKET", strerror(errno));
  if (addr.ss.ss_family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  int size = 4 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr.ss), addr.len) != 0) {
    int err = errno;
    close(fd);
    const char* code = err == EADDRINUSE ? "EADDRINUSE" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EACCES ? "EACCES" : "ERR_SOCKET";
    return throwError(env, code, strerror(err));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  std::string text;
  uint16_t boundPort = 0;
  addressText(bound, &text, &boundPort);
  std::lock_guard<std::mutex> lock(a.core->mu);
  uint32_t index = uint32_t(a.core->sockets.size());
  for (uint32_t i = 0; i < a.core->sockets.size(); i++) {
    if (a.core->sockets[i].fd < 0) {
      index = i;
      break;
    }
  }
  if (index == a.core->sockets.size()) a.core->sockets.push_back(Socket());
  a.core->sockets[index] = Socket();
  a.core->sockets[index].fd = fd;
  a.core->sockets[index].port = boundPort;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = index;
  epoll_ctl(a.core->epfd, EPOLL_CTL_ADD, fd, &ev);
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "index", u32Value(env, index));
  napi_set_named_property(env, result, "port", u32Value(env, boundPort));
  return result;
}

static napi_value CloseSocket(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t sock = a.u32(0);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "closeSocket(index)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  Core& c = *a.core;
  if (sock >= c.sockets.size() || c.sockets[sock].fd < 0) return undefinedValue(env);
  std::vector<uint32_t> tids;
  for (auto& t : c.transports)
    if (t.second->sock == sock) tids.push_back(t.first);
  for (uint32_t tid : tids) c.removeTransportLocked(tid);
  epoll_ctl(c.epfd, EPOLL_CTL_DEL, c.sockets[sock].fd, nullptr);
  close(c.sockets[sock].fd);
  c.sockets[sock].fd = -1;
  return undefinedValue(env);
}

/** send(socket, buffer, ip, port): a datagram JavaScript made (STUN, DTLS). */
static napi_value Send(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t sock = a.u32(0);
  size_t length;
  uint8_t* data = a.bytes(1, &length);
  std::string ip = a.str(2);
  uint32_t port = a.u32(3);
  Address to;
  if (!a.ok || port > 65535 || !parseAddress(ip, uint16_t(port), &to)) return throwError(env, "ERR_INVALID_ARG_VALUE", "send(socket, buffer, ip, port)");
  int fd = sock < a.core->sockets.size() ? a.core->sockets[sock].fd : -1;
  bool sent = fd >= 0 && sendto(fd, data, length, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to.ss), to.len) >= 0;
  napi_value result;
  napi_get_boolean(env, sent, &result);
  return result;
}

static napi_value AddTransport(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t sock = a.u32(0);
  uint32_t rtcpSsrc = a.u32(1);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "addTransport(socket, rtcpSsrc)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto t = std::make_unique<Transport>();
  t->id = a.core->nextId++;
  t->sock = sock;
  t->rtcpSsrc = rtcpSsrc;
  uint32_t id = t->id;
  a.core->transports.emplace(id, std::move(t));
  return u32Value(env, id);
}

static napi_value RemoveTransport(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t tid = a.u32(0);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "removeTransport(id)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  a.core->removeTransportLocked(tid);
  return undefinedValue(env);
}

/**
 * setTuple(tid, ip, port, socket?) routes that 5-tuple's SRTP here and sends there, from
 * `socket` when given (a transport on several sockets: the one of the selected pair),
 * else from the transport's socket; setTuple(tid) clears it.
 */
static napi_value SetTuple(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t tid = a.u32(0);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "setTuple(id, ip?, port?, socket?)");
  bool clear = a.argc < 3;
  bool moves = a.argc >= 4;
  Address to;
  uint32_t sock = 0;
  if (!clear) {
    std::string ip = a.str(1);
    uint32_t port = a.u32(2);
    if (moves) sock = a.u32(3);
    if (!a.ok || port > 65535 || !parseAddress(ip, uint16_t(port), &to)) return throwError(env, "ERR_INVALID_ARG_VALUE", "setTuple(id, ip, port, socket?)");
  }
  std::lock_guard<std::mutex> lock(a.core->mu);
  if (moves && (sock >= a.core->sockets.size() || a.core->sockets[sock].fd < 0)) return throwError(env, "ERR_INVALID_ARG_VALUE", "setTuple(id, ip, port, socket): no such socket");
  auto t = a.core->transports.find(tid);
  if (t == a.core->transports.end()) return undefinedValue(env);
  a.core->clearTupleLocked(*t->second);
  if (clear) return undefinedValue(env);
  if (moves) t->second->sock = sock;
  t->second->tuple = to;
  t->second->tupleKey = keyOf(t->second->sock, to.ss);
  t->second->hasTuple = true;
  a.core->tuples[t->second->tupleKey] = tid;
  return undefinedValue(env);
}

static bool readKeys(Args& a, size_t at, SessionKeys* k) {
  size_t n[6];
  uint8_t* p[6];
  for (int i = 0; i < 6; i++) p[i] = a.bytes(at + size_t(i), &n[i]);
  if (!a.ok || n[0] > 32 || n[1] > 14 || n[2] > 20 || n[3] > 32 || n[4] > 14 || n[5] > 20) return false;
  std::memset(k, 0, sizeof *k);
  std::memcpy(k->rtpKey, p[0], n[0]);
  std::memcpy(k->rtpSalt, p[1], n[1]);
  std::memcpy(k->rtpAuth, p[2], n[2]);
  std::memcpy(k->rtcpKey, p[3], n[3]);
  std::memcpy(k->rtcpSalt, p[4], n[4]);
  std::memcpy(k->rtcpAuth, p[5], n[5]);
  return true;
}

/** setKeys(tid, profile, 6 inbound session-key buffers, 6 outbound): false for a profile it cannot do. */
static napi_value SetKeys(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t tid = a.u32(0);
  uint32_t profile = a.u32(1);
  SessionKeys in, out;
  if (!a.ok || !readKeys(a, 2, &in) || !readKeys(a, 8, &out)) return throwError(env, "ERR_INVALID_ARG_VALUE", "setKeys(id, profile, ...12 keys)");
  std::unique_ptr<SrtpDirection> din(SrtpDirection::create(int(profile), in, false));
  std::unique_ptr<SrtpDirection> dout(SrtpDirection::create(int(profile), out, true));
  OPENSSL_cleanse(&in, sizeof in);
  OPENSSL_cleanse(&out, sizeof out);
  napi_value result;
  if (!din || !dout) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto t = a.core->transports.find(tid);
  bool ok = t != a.core->transports.end();
  if (ok) {
    t->second->in = std::move(din);
    t->second->out = std::move(dout);
  }
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value SetHooked(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t tid = a.u32(0);
  bool hooked = a.boolean(1);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "setHooked(id, bool)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto t = a.core->transports.find(tid);
  if (t != a.core->transports.end()) t->second->hooked = hooked;
  return undefinedValue(env);
}

/**
 * inject(tid, buffer): an SRTP/SRTCP datagram JavaScript received for the transport
 * (from a 5-tuple other than the selected one, or past a test hook), through the same
 * native path. The buffer is copied; what it makes is sent before this returns.
 */
static napi_value Inject(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t tid = a.u32(0);
  size_t length;
  uint8_t* data = a.bytes(1, &length);
  bool decrypted = a.argc > 2 && a.boolean(2);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "inject(id, buffer)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  Core& c = *a.core;
  auto t = c.transports.find(tid);
  if (t == c.transports.end() || !t->second->in || length == 0 || length > 1500 + 64) return undefinedValue(env);
  uint8_t buf[kSlotBytes];
  std::memcpy(buf, data, length);
  if (decrypted) {
    // An RTP packet JavaScript already routed once (its SSRC was just bound by mid).
    RtpView v;
    if (readRtp(buf, int(length), &v)) c.routeRtp(*t->second, v, false);
  } else {
    c.handleSrtp(*t->second, buf, int(length));
  }
  c.flushLocked();
  c.postLocked();
  return undefinedValue(env);
}

/** sendRtcp(tid, buffer): protects a compound RTCP packet JavaScript made and sends it. */
static napi_value SendRtcp(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t tid = a.u32(0);
  size_t length;
  uint8_t* data = a.bytes(1, &length);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "sendRtcp(id, buffer)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  Core& c = *a.core;
  auto t = c.transports.find(tid);
  bool sent = false;
  if (t != c.transports.end() && length <= 1500) {
    sent = c.sendRtcpLocked(*t->second, data, int(length));
    c.flushLocked();
  }
  napi_value result;
  napi_get_boolean(env, sent, &result);
  return result;
}

/** addProducer(tid, ssrc|-1, rtxSsrc|-1, payloadType, rtxPayloadType|-1, clockRate, codec, video, nack) -> id */
static napi_value AddProducer(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t tid = a.u32(0);
  double ssrc = a.f64(1), rtxSsrc = a.f64(2);
  uint32_t pt = a.u32(3);
  double rtxPt = a.f64(4);
  uint32_t clockRate = a.u32(5);
  uint32_t codec = a.u32(6);
  bool video = a.boolean(7), nack = a.boolean(8);
  if (!a.ok || clockRate == 0) return throwError(env, "ERR_INVALID_ARG_VALUE", "addProducer(...)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  Core& c = *a.core;
  auto t = c.transports.find(tid);
  if (t == c.transports.end()) return throwError(env, "ERR_UNKNOWN_TRANSPORT", "no such transport");
  auto p = std::make_unique<Producer>();
  p->id = c.nextId++;
  p->tid = tid;
  p->payloadType = int(pt & 0x7f);
  p->rtxPayloadType = rtxPt >= 0 ? int(rtxPt) & 0x7f : -1;
  p->clockRate = clockRate;
  p->codec = int(codec);
  p->video = video;
  p->nack = nack;
  if (video) p->ring.resize(kRingSize);
  if (ssrc >= 0) {
    p->ssrc = uint32_t(ssrc), p->hasSsrc = true;
    t->second->producersBySsrc[p->ssrc] = p->id;
  }
  if (rtxSsrc >= 0) {
    p->rtxSsrc = uint32_t(rtxSsrc), p->hasRtxSsrc = true;
    t->second->producersByRtxSsrc[p->rtxSsrc] = p->id;
  }
  uint32_t id = p->id;
  c.producers.emplace(id, std::move(p));
  return u32Value(env, id);
}

/** bindProducerSsrc(pid, ssrc, rtx): an SSRC learned from a packet's mid. */
static napi_value BindProducerSsrc(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t pid = a.u32(0), ssrc = a.u32(1);
  bool rtx = a.boolean(2);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "bindProducerSsrc(id, ssrc, rtx)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  Core& c = *a.core;
  auto p = c.producers.find(pid);
  if (p == c.producers.end()) return undefinedValue(env);
  auto t = c.transports.find(p->second->tid);
  if (t == c.transports.end()) return undefinedValue(env);
  if (rtx) {
    p->second->rtxSsrc = ssrc, p->second->hasRtxSsrc = true;
    t->second->producersByRtxSsrc[ssrc] = pid;
  } else {
    p->second->ssrc = ssrc, p->second->hasSsrc = true;
    t->second->producersBySsrc[ssrc] = pid;
  }
  return undefinedValue(env);
}

static napi_value SetProducerPaused(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t pid = a.u32(0);
  bool paused = a.boolean(1);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "setProducerPaused(id, bool)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto p = a.core->producers.find(pid);
  if (p != a.core->producers.end()) p->second->paused = paused;
  return undefinedValue(env);
}

static napi_value RemoveProducer(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t pid = a.u32(0);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "removeProducer(id)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  a.core->removeProducerLocked(pid);
  return undefinedValue(env);
}

/** setProducerTapped(pid, tapped): its packets go up to JavaScript (tapped events) while true. */
static napi_value SetProducerTapped(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t pid = a.u32(0);
  bool tapped = a.boolean(1);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "setProducerTapped(id, bool)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto p = a.core->producers.find(pid);
  if (p != a.core->producers.end() && !p->second->fed) p->second->tapped = tapped;
  return undefinedValue(env);
}

/** setProducerAudioLevel(pid, extensionId): read the audio level extension (RFC 6464) with this id from its packets (0: none). */
static napi_value SetProducerAudioLevel(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t pid = a.u32(0), id = a.u32(1);
  if (!a.ok || id > 255) return throwError(env, "ERR_INVALID_ARG_VALUE", "setProducerAudioLevel(id, extensionId)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto p = a.core->producers.find(pid);
  if (p != a.core->producers.end()) p->second->audioLevelId = int(id);
  return undefinedValue(env);
}

/** readProducerAudioLevel(pid): [loudest -dBov, packets, voicePackets] since the last read (which this starts anew), or undefined. */
static napi_value ReadProducerAudioLevel(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t pid = a.u32(0);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "readProducerAudioLevel(id)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto pi = a.core->producers.find(pid);
  if (pi == a.core->producers.end()) return undefinedValue(env);
  Producer& p = *pi->second;
  double v[] = {double(p.loudest), p.levelPackets, p.voicePackets};
  p.loudest = 127;
  p.levelPackets = 0;
  p.voicePackets = 0;
  return numbers(env, v, sizeof v / sizeof v[0]);
}

/** addFedProducer(payloadType, clockRate, codec, video) -> id: a producer of no transport, fed by JavaScript. */
static napi_value AddFedProducer(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t pt = a.u32(0), clockRate = a.u32(1), codec = a.u32(2);
  bool video = a.boolean(3);
  if (!a.ok || clockRate == 0) return throwError(env, "ERR_INVALID_ARG_VALUE", "addFedProducer(payloadType, clockRate, codec, video)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  Core& c = *a.core;
  auto p = std::make_unique<Producer>();
  p->id = c.nextId++;
  p->tid = 0;  // no transport has id 0
  p->fed = true;
  p->payloadType = int(pt & 0x7f);
  p->clockRate = clockRate;
  p->codec = int(codec);
  p->video = video;
  // Its consumers' subscribers NACK: answered from the ring as any producer's.
  if (video) p->ring.resize(kRingSize);
  uint32_t id = p->id;
  c.producers.emplace(id, std::move(p));
  return u32Value(env, id);
}

/**
 * feed(pid, buffer): an unprotected RTP packet of a fed producer (made in JavaScript: a
 * mix, an endpoint's media), forwarded to its consumers (rewritten, protected, sent)
 * before this returns. Packets of other producers and malformed ones are dropped.
 */
static napi_value Feed(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t pid = a.u32(0);
  size_t length;
  uint8_t* data = a.bytes(1, &length);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "feed(id, buffer)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  Core& c = *a.core;
  auto p = c.producers.find(pid);
  if (p == c.producers.end() || !p->second->fed || length == 0 || length > 1500 + 64) return undefinedValue(env);
  uint8_t buf[kSlotBytes];
  std::memcpy(buf, data, length);
  RtpView v;
  if (!readRtp(buf, int(length), &v)) return undefinedValue(env);
  c.counters.fed++;
  c.producerReceive(*p->second, v, nowMs(), false);
  c.flushLocked();
  c.postLocked();
  return undefinedValue(env);
}

/** addConsumer(pid, tid, ssrc, payloadType, clockRate, codec, video, paused, initialSeq, initialTs) -> id */
static napi_value AddConsumer(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t pid = a.u32(0), tid = a.u32(1), ssrc = a.u32(2), pt = a.u32(3), clockRate = a.u32(4), codec = a.u32(5);
  bool video = a.boolean(6), paused = a.boolean(7);
  uint32_t initialSeq = a.u32(8), initialTs = a.u32(9);
  if (!a.ok || clockRate == 0) return throwError(env, "ERR_INVALID_ARG_VALUE", "addConsumer(...)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  Core& core = *a.core;
  auto p = core.producers.find(pid);
  auto t = core.transports.find(tid);
  if (p == core.producers.end() || t == core.transports.end()) return throwError(env, "ERR_UNKNOWN_PRODUCER", "no such producer or transport");
  auto c = std::make_unique<Consumer>();
  c->id = core.nextId++;
  c->pid = pid;
  c->tid = tid;
  c->ssrc = ssrc;
  c->payloadType = int(pt & 0x7f);
  c->clockRate = clockRate;
  c->codec = int(codec);
  c->video = video;
  c->paused = paused;
  c->awaitingKeyframe = video;
  c->lastSeq = uint16_t(initialSeq - 1);
  c->lastTs = initialTs;
  // Only video is resent (an audio producer keeps no ring): an audio consumer's NACK is a miss.
  if (video) c->history.resize(kHistory);
  uint32_t id = c->id;
  p->second->consumers.push_back(id);
  t->second->consumersBySsrc[ssrc] = id;
  core.consumers.emplace(id, std::move(c));
  return u32Value(env, id);
}

/** setConsumerPaused(cid, paused): resuming video waits for a keyframe again. */
static napi_value SetConsumerPaused(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t cid = a.u32(0);
  bool paused = a.boolean(1);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "setConsumerPaused(id, bool)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto c = a.core->consumers.find(cid);
  if (c != a.core->consumers.end()) {
    if (c->second->paused && !paused && c->second->video) c->second->awaitingKeyframe = true;
    c->second->paused = paused;
  }
  return undefinedValue(env);
}

/** setConsumerResend(cid, intervalMs|-1, floorSeq|-1): see Consumer::resendIntervalMs and resendFloor (-1: unchanged). */
static napi_value SetConsumerResend(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t cid = a.u32(0);
  double interval = a.f64(1);
  double floor = a.f64(2);
  if (!a.ok || !(interval >= 0 || interval == -1) || !(floor == -1 || (floor >= 0 && floor <= 65535))) {
    return throwError(env, "ERR_INVALID_ARG_VALUE", "setConsumerResend(id, intervalMs >= 0 or -1, floorSeq 0-65535 or -1)");
  }
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto c = a.core->consumers.find(cid);
  if (c != a.core->consumers.end()) {
    if (interval >= 0) c->second->resendIntervalMs = interval;
    if (floor >= 0) {
      c->second->hasResendFloor = true;
      c->second->resendFloor = uint16_t(floor);
    }
  }
  return undefinedValue(env);
}

/** setConsumerTransportCc(cid, extensionId): stamp transport-cc with this id on its packets (0: stop). */
static napi_value SetConsumerTransportCc(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t cid = a.u32(0);
  uint32_t id = a.u32(1);
  if (!a.ok || id > 14) return throwError(env, "ERR_INVALID_ARG_VALUE", "setConsumerTransportCc(id, extensionId 0-14)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto c = a.core->consumers.find(cid);
  if (c != a.core->consumers.end()) c->second->twccId = int(id);
  return undefinedValue(env);
}

/** sentPackets(tid, baseSeq, count): [sendTime ms (-1: not known), size] for each transport-wide number from baseSeq. */
static napi_value SentPackets(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t tid = a.u32(0);
  uint32_t base = a.u32(1);
  uint32_t count = a.u32(2);
  if (!a.ok || base > 0xffff || count > uint32_t(kSentHistory)) return throwError(env, "ERR_INVALID_ARG_VALUE", "sentPackets(id, baseSeq 0-65535, count <= 8192)");
  std::vector<double> v(size_t(count) * 2, -1);
  {
    std::lock_guard<std::mutex> lock(a.core->mu);
    auto t = a.core->transports.find(tid);
    if (t != a.core->transports.end() && !t->second->sent.empty()) {
      for (uint32_t i = 0; i < count; i++) {
        uint16_t seq = uint16_t(base + i);
        const SentPacket& s = t->second->sent[seq % kSentHistory];
        if (s.seq != int32_t(seq)) continue;
        v[2 * i] = s.at;
        v[2 * i + 1] = s.size;
      }
    }
  }
  return numbers(env, v.data(), v.size());
}

/**
 * sendPadding(cid, count, size): a bandwidth probe: `count` padding-only packets of
 * `size` padding bytes in the consumer's stream, numbered after its newest packet (the
 * stream continues after them; a late packet from before them is dropped), stamped;
 * [first transport-wide number, packets sent]. StreamRewriter.reserve() on the
 * TypeScript path.
 */
static napi_value SendPadding(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t cid = a.u32(0);
  uint32_t count = a.u32(1);
  uint32_t size = a.u32(2);
  if (!a.ok || count > 64 || size < 1 || size > 255) return throwError(env, "ERR_INVALID_ARG_VALUE", "sendPadding(id, count <= 64, size 1-255)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  Core& core = *a.core;
  double v[2] = {0, 0};
  auto ci = core.consumers.find(cid);
  if (ci != core.consumers.end()) {
    Consumer& c = *ci->second;
    auto ti = core.transports.find(c.tid);
    if (ti != core.transports.end() && c.started && c.video && !c.paused && c.twccId > 0 && ti->second->canSend() && count > 0) {
      Transport& t = *ti->second;
      uint8_t packet[12 + 255] = {0};
      packet[12 + size - 1] = uint8_t(size);
      RtpView view{};
      view.data = packet;
      view.end = int(12 + size);
      view.payloadOffset = 12;
      view.padding = true;
      view.payloadType = uint8_t(c.payloadType);
      view.timestamp = c.lastTs;
      view.ssrc = c.ssrc;
      uint16_t first = uint16_t(c.lastSeq + 1);
      uint16_t newestIn = uint16_t(c.lastSeq - c.seqOffset);
      c.baseInSeq = uint16_t(newestIn + 1);
      c.seqOffset = uint16_t(c.seqOffset + count);
      c.lastSeq = uint16_t(c.lastSeq + count);
      v[0] = t.twccSeq;
      for (uint32_t i = 0; i < count; i++) {
        uint16_t seq = uint16_t(first + i);
        // Not a packet of the producer's: a NACK for it is a miss.
        c.history[seq % kHistory].outSeq = -1;
        if (core.sendForwarded(t, view, c.payloadType, seq, c.lastTs, c.ssrc, c.twccId)) v[1]++;
      }
      core.flushLocked();
    }
  }
  return numbers(env, v, 2);
}

static napi_value RemoveConsumer(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t cid = a.u32(0);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "removeConsumer(id)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  a.core->removeConsumerLocked(cid);
  return undefinedValue(env);
}

/** transportStats(tid): [rtpIn, rtcpIn, rtpOut, rtcpOut, droppedSrtp, droppedUnknownSsrc, droppedOther, nativeNacksSent, srtpTruncated, srtpAuthFailures, srtpReplayed] */
static napi_value TransportStats(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t tid = a.u32(0);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "transportStats(id)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto t = a.core->transports.find(tid);
  if (t == a.core->transports.end()) return undefinedValue(env);
  const TransportCounters& k = t->second->counters;
  double v[] = {k.rtpIn, k.rtcpIn, k.rtpOut, k.rtcpOut, k.droppedSrtp, k.droppedUnknownSsrc, k.droppedOther, k.nativeNacksSent, k.srtpTruncated, k.srtpAuthFailures, k.srtpReplayed};
  return numbers(env, v, sizeof v / sizeof v[0]);
}

/** producerStats(pid): [packets, bytes, lost, duplicates, rtxReceived, nacksSent, nackedPackets, jitter, started, highestSeq, cycles, baseSeq] */
static napi_value ProducerStats(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t pid = a.u32(0);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "producerStats(id)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto pi = a.core->producers.find(pid);
  if (pi == a.core->producers.end()) return undefinedValue(env);
  const Producer& p = *pi->second;
  double v[] = {p.packets, p.bytes, p.lost, p.duplicates, p.rtxReceived, p.nacksSent, p.nackedPackets, p.jitter, p.started ? 1.0 : 0.0, double(p.highestSeq), p.cycles, double(p.baseSeq)};
  return numbers(env, v, sizeof v / sizeof v[0]);
}

/** consumerStats(cid): [packets, bytes, droppedAwaitingKeyframe, droppedBeforeStart, nacksReceived, retransmitted, retransmitMisses, lastTs, msSinceLast, started, lastSeq, retransmitsSkipped] */
static napi_value ConsumerStats(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t cid = a.u32(0);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "consumerStats(id)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  auto ci = a.core->consumers.find(cid);
  if (ci == a.core->consumers.end()) return undefinedValue(env);
  const Consumer& c = *ci->second;
  double v[] = {c.packets, c.bytes, c.droppedAwaitingKeyframe, c.droppedBeforeStart, c.nacksReceived, c.retransmitted, c.retransmitMisses, double(c.lastTs), c.started ? nowMs() - c.lastAt : 0.0, c.started ? 1.0 : 0.0, double(c.lastSeq), c.retransmitsSkipped};
  return numbers(env, v, sizeof v / sizeof v[0]);
}

/** socketStats(index): [datagrams, bytes] received on that socket. */
static napi_value SocketStats(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  uint32_t sock = a.u32(0);
  if (!a.ok) return throwError(env, "ERR_INVALID_ARG_VALUE", "socketStats(index)");
  std::lock_guard<std::mutex> lock(a.core->mu);
  if (sock >= a.core->sockets.size()) return undefinedValue(env);
  double v[] = {a.core->sockets[sock].datagrams, a.core->sockets[sock].bytes};
  return numbers(env, v, 2);
}

/** stats(): [datagrams, bytes, batches, upcalls, forwarded, sendBatches, sendErrors, transports, producers, consumers, sockets, tapped, fed] */
static napi_value Stats(napi_env env, napi_callback_info info) {
  CORE_ARGS(a);
  std::lock_guard<std::mutex> lock(a.core->mu);
  Core& c = *a.core;
  double open = 0;
  for (Socket& s : c.sockets)
    if (s.fd >= 0) open++;
  double v[] = {c.counters.datagrams, c.counters.bytes, c.counters.batches, c.counters.upcalls, c.counters.forwarded, c.counters.sendBatches, c.counters.sendErrors, double(c.transports.size()), double(c.producers.size()), double(c.consumers.size()), open, c.counters.tapped, c.counters.fed};
  return numbers(env, v, sizeof v / sizeof v[0]);
}

static napi_value Close(napi_env env, napi_callback_info info) {
  Args a(env, info);
  if (!a.ok) return throwError(env, "ERR_INVALID_THIS", "not a PacketCore");
  unhook(a.core);
  a.core->closeAll();
  return undefinedValue(env);
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"openSocket", nullptr, OpenSocket, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"closeSocket", nullptr, CloseSocket, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"send", nullptr, Send, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addTransport", nullptr, AddTransport, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"removeTransport", nullptr, RemoveTransport, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setTuple", nullptr, SetTuple, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setKeys", nullptr, SetKeys, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setHooked", nullptr, SetHooked, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"inject", nullptr, Inject, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sendRtcp", nullptr, SendRtcp, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addProducer", nullptr, AddProducer, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bindProducerSsrc", nullptr, BindProducerSsrc, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setProducerPaused", nullptr, SetProducerPaused, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"removeProducer", nullptr, RemoveProducer, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setProducerTapped", nullptr, SetProducerTapped, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setProducerAudioLevel", nullptr, SetProducerAudioLevel, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"readProducerAudioLevel", nullptr, ReadProducerAudioLevel, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addFedProducer", nullptr, AddFedProducer, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"feed", nullptr, Feed, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addConsumer", nullptr, AddConsumer, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setConsumerPaused", nullptr, SetConsumerPaused, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setConsumerResend", nullptr, SetConsumerResend, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setConsumerTransportCc", nullptr, SetConsumerTransportCc, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sentPackets", nullptr, SentPackets, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sendPadding", nullptr, SendPadding, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"removeConsumer", nullptr, RemoveConsumer, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"transportStats", nullptr, TransportStats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"producerStats", nullptr, ProducerStats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"consumerStats", nullptr, ConsumerStats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"socketStats", nullptr, SocketStats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stats", nullptr, Stats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value cls;
  napi_define_class(env, "PacketCore", NAPI_AUTO_LENGTH, New, nullptr, sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "PacketCore", cls);
  return exports;
}

}  // namespace rt

NAPI_MODULE_INIT() { return rt::Init(env, exports); }
