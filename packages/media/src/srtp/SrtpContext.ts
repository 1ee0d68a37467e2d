import { createCipheriv, createDecipheriv } from 'node:crypto';
import { AesCmKeystream, KeystreamCache } from './AesCmKeystream.js';
import { HmacSha1, tagsEqual } from './HmacSha1.js';
import { deriveSessionKeys, type SessionKeys } from './kdf.js';
import { profileParams, type ProfileParams, type SrtpProfile } from './profiles.js';
import { ReplayWindow } from './ReplayWindow.js';

/** Negative results of unprotect*(): why a packet was dropped. */
export const SrtpDrop = {
  /** Too short for its header and tag. */
  TRUNCATED: -1,
  /** Authentication tag wrong (forged, corrupted, or keyed for someone else). */
  AUTH_FAILED: -2,
  /** Index already received, or older than the replay window. */
  REPLAYED: -3,
} as const;

export interface SrtpContextOptions {
  /** Replay window in packets: 64 (default), 128, or any multiple of 32 (libwebrtc uses 1024). */
  replayWindow?: number;
}

export interface SrtpStats {
  rtpProtected: number;
  rtpUnprotected: number;
  rtcpProtected: number;
  rtcpUnprotected: number;
  truncated: number;
  authFailures: number;
  replayed: number;
}

interface RtpState {
  roc: number;
  /** Keystreams made ahead for the next packets of the stream (AES-CM). */
  cache?: KeystreamCache;
  /** Highest sequence number seen (s_l, RFC 3711 §3.3.1). */
  sl: number;
  replay: ReplayWindow | undefined;
}

interface RtcpState {
  /** Next SRTCP index to send. */
  next: number;
  replay: ReplayWindow | undefined;
}

const GCM_TAG = 16;

/**
 * One direction of an SRTP session (RFC 3711, RFC 7714): the session keys derived from
 * one master key and salt, and the per-SSRC rollover counters and replay windows.
 * A context either protects (our sending direction) or unprotects (the peer's).
 *
 * Packets are processed in place: protect*() appends the tag (the buffer needs
 * room for it, see tagLength), unprotect*() decrypts where the packet is and returns
 * the plaintext length, or a negative SrtpDrop code; drops are counted in stats.
 */
export class SrtpContext {
  readonly params: ProfileParams;
  readonly stats: SrtpStats = {
    rtpProtected: 0,
    rtpUnprotected: 0,
    rtcpProtected: 0,
    rtcpUnprotected: 0,
    truncated: 0,
    authFailures: 0,
    replayed: 0,
  };
  private readonly keys: SessionKeys;
  private readonly replaySize: number;
  private readonly rtp = new Map<number, RtpState>();
  private readonly rtcp = new Map<number, RtcpState>();
  private readonly rtpCm: AesCmKeystream | undefined;
  private readonly rtcpCm: AesCmKeystream | undefined;
  private readonly rtpMac: HmacSha1 | undefined;
  private readonly rtcpMac: HmacSha1 | undefined;
  private readonly gcmAlgorithm: 'aes-128-gcm' | 'aes-256-gcm';
  private readonly gcmIv = Buffer.alloc(12);
  /** The computed tag of a packet being authenticated. */
  private readonly tag = Buffer.alloc(20);
  private readonly gcmAad = Buffer.alloc(12);

  constructor(
    readonly profile: SrtpProfile,
    masterKey: Buffer,
    masterSalt: Buffer,
    options: SrtpContextOptions = {},
  ) {
    this.params = profileParams(profile);
    this.replaySize = options.replayWindow ?? 64;
    this.keys = deriveSessionKeys(profile, masterKey, masterSalt);
    this.gcmAlgorithm = this.params.keyLength === 32 ? 'aes-256-gcm' : 'aes-128-gcm';
    if (this.params.mode === 'cm') {
      this.rtpCm = new AesCmKeystream(this.keys.rtpKey);
      this.rtcpCm = new AesCmKeystream(this.keys.rtcpKey);
      this.rtpMac = new HmacSha1(this.keys.rtpAuth);
      this.rtcpMac = new HmacSha1(this.keys.rtcpAuth);
    }
  }

  /** Bytes protectRtp() appends. */
  get rtpOverhead(): number {
    return this.params.rtpTagLength;
  }

  /** Bytes protectRtcp() appends (tag and the 4-byte E+index word). */
  get rtcpOverhead(): number {
    return this.params.rtcpTagLength + 4;
  }

  /** The rollover counter of an SSRC (0 before its first packet). */
  rolloverCounter(ssrc: number): number {
    return this.rtp.get(ssrc)?.roc ?? 0;
  }

  /**
   * Protects the RTP packet in buf[0, length) in place and returns the SRTP length
   * (length + rtpOverhead): buf must be that long.
   */
  protectRtp(buf: Buffer, length: number): number {
    const hl = rtpHeaderLength(buf, length);
    if (hl < 0) throw new RangeError('protectRtp: not an RTP packet');
    const ssrc = buf.readUInt32BE(8);
    const seq = (buf[2]! << 8) | buf[3]!;
    let state = this.rtp.get(ssrc);
    if (!state) {
      state = { roc: 0, sl: seq, replay: undefined };
      this.rtp.set(ssrc, state);
    }
    const v = estimateRoc(state, seq);
    if (v === state.roc + 1) {
      state.roc = v >>> 0;
      state.sl = seq;
    } else if (v === state.roc && seq > state.sl) {
      state.sl = seq;
    }
    const roc = v >>> 0;
    this.stats.rtpProtected++;
    if (this.params.mode === 'gcm') return this.gcmSeal(this.keys.rtpKey, this.rtpGcmIv(ssrc, roc, seq), buf, 0, hl, length, undefined);
    const cm = this.rtpCm!;
    state.cache ??= new KeystreamCache();
    if (!state.cache.xor(cm, this.keys.rtpSalt, ssrc, roc * 65536 + seq, buf, hl, length)) {
      this.writeCmIv(cm.ivBuffer, this.keys.rtpSalt, ssrc, roc, seq);
      cm.xor(buf, hl, length);
    }
    this.rtpMac!.macInto(buf, 0, length, roc, buf, length, this.params.rtpTagLength);
    return length + this.params.rtpTagLength;
  }

  /**
   * Authenticates and decrypts the SRTP packet in buf[0, length) in place: returns
   * the RTP packet's length, or a negative SrtpDrop code (the packet is then left
   * as it was, and counted).
   */
  unprotectRtp(buf: Buffer, length = buf.length): number {
    const tagLength = this.params.rtpTagLength;
    const hl = rtpHeaderLength(buf, length - tagLength);
    if (hl < 0) {
      this.stats.truncated++;
      return SrtpDrop.TRUNCATED;
    }
    const ssrc = buf.readUInt32BE(8);
    const seq = (buf[2]! << 8) | buf[3]!;
    let state = this.rtp.get(ssrc);
    const fresh = !state;
    if (!state) state = { roc: 0, sl: seq, replay: new ReplayWindow(this.replaySize) };
    const v = estimateRoc(state, seq);
    if (v < 0) {
      this.stats.replayed++;
      return SrtpDrop.REPLAYED;
    }
    const roc = v >>> 0;
    const index = roc * 65536 + seq;
    const replay = state.replay!;
    if (!fresh && !replay.check(index)) {
      this.stats.replayed++;
      return SrtpDrop.REPLAYED;
    }
    const end = length - tagLength;
    if (this.params.mode === 'gcm') {
      if (!this.gcmOpen(this.keys.rtpKey, this.rtpGcmIv(ssrc, roc, seq), buf, 0, hl, end, undefined)) {
        this.stats.authFailures++;
        return SrtpDrop.AUTH_FAILED;
      }
    } else {
      const tag = this.tag;
      this.rtpMac!.macInto(buf, 0, end, roc, tag, 0, tagLength);
      if (!tagsEqual(tag, 0, buf, end, tagLength)) {
        this.stats.authFailures++;
        return SrtpDrop.AUTH_FAILED;
      }
      // Authenticated: only now may the packet's index steer the keystream cache.
      const cm = this.rtpCm!;
      state.cache ??= new KeystreamCache();
      if (!state.cache.xor(cm, this.keys.rtpSalt, ssrc, index, buf, hl, end)) {
        this.writeCmIv(cm.ivBuffer, this.keys.rtpSalt, ssrc, roc, seq);
        cm.xor(buf, hl, end);
      }
    }
    if (fresh) this.rtp.set(ssrc, state);
    replay.accept(index);
    if (v === state.roc + 1) {
      state.roc = roc;
      state.sl = seq;
    } else if (v === state.roc && seq > state.sl) {
      state.sl = seq;
    }
    this.stats.rtpUnprotected++;
    return end;
  }

  /**
   * Protects the RTCP compound packet in buf[0, length) in place (encrypted, with
   * the next SRTCP index of its SSRC) and returns the SRTCP length (length +
   * rtcpOverhead).
   */
  protectRtcp(buf: Buffer, length: number): number {
    if (length < 8) throw new RangeError('protectRtcp: not an RTCP packet');
    const ssrc = buf.readUInt32BE(4);
    let state = this.rtcp.get(ssrc);
    if (!state) {
      state = { next: 0, replay: undefined };
      this.rtcp.set(ssrc, state);
    }
    const index = state.next;
    state.next = (index + 1) & 0x7fffffff;
    return this.protectRtcpWithIndex(buf, length, index);
  }

  /** protectRtcp() with an explicit SRTCP index (test vectors, and resuming a session). */
  protectRtcpWithIndex(buf: Buffer, length: number, index: number): number {
    const ssrc = buf.readUInt32BE(4);
    const word = (0x80000000 | index) >>> 0;
    this.stats.rtcpProtected++;
    if (this.params.mode === 'gcm') {
      this.gcmAad.writeUInt32BE(word, 8);
      buf.copy(this.gcmAad, 0, 0, 8);
      const end = this.gcmSeal(this.keys.rtcpKey, this.rtcpGcmIv(ssrc, index), buf, 0, 8, length, this.gcmAad);
      buf.writeUInt32BE(word, end);
      return end + 4;
    }
    const cm = this.rtcpCm!;
    this.writeCmIv(cm.ivBuffer, this.keys.rtcpSalt, ssrc, 0, 0, index);
    cm.xor(buf, 8, length);
    buf.writeUInt32BE(word, length);
    this.rtcpMac!.macInto(buf, 0, length + 4, undefined, buf, length + 4, this.params.rtcpTagLength);
    return length + 4 + this.params.rtcpTagLength;
  }

  /** Authenticates and decrypts an SRTCP packet in place: RTCP length or a negative SrtpDrop code. */
  unprotectRtcp(buf: Buffer, length = buf.length): number {
    const tagLength = this.params.rtcpTagLength;
    if (length < 8 + 4 + tagLength) {
      this.stats.truncated++;
      return SrtpDrop.TRUNCATED;
    }
    const gcm = this.params.mode === 'gcm';
    const wordAt = gcm ? length - 4 : length - tagLength - 4;
    const word = buf.readUInt32BE(wordAt);
    const encrypted = word >>> 31 === 1;
    const index = word & 0x7fffffff;
    const ssrc = buf.readUInt32BE(4);
    let state = this.rtcp.get(ssrc);
    if (state?.replay && !state.replay.check(index)) {
      this.stats.replayed++;
      return SrtpDrop.REPLAYED;
    }
    let end: number;
    if (gcm) {
      end = length - 4 - tagLength;
      this.gcmAad.writeUInt32BE(word, 8);
      buf.copy(this.gcmAad, 0, 0, 8);
      const ok = encrypted
        ? this.gcmOpen(this.keys.rtcpKey, this.rtcpGcmIv(ssrc, index), buf, 0, 8, end, this.gcmAad)
        : // Unencrypted (E = 0, RFC 7714 §9.3): the whole RTCP packet and the E||index word are the AAD, nothing is ciphertext.
          this.gcmOpen(this.keys.rtcpKey, this.rtcpGcmIv(ssrc, index), buf, 0, end, end, Buffer.concat([buf.subarray(0, end), this.gcmAad.subarray(8, 12)]));
      if (!ok) {
        this.stats.authFailures++;
        return SrtpDrop.AUTH_FAILED;
      }
    } else {
      end = wordAt;
      const tag = this.tag;
      this.rtcpMac!.macInto(buf, 0, wordAt + 4, undefined, tag, 0, tagLength);
      if (!tagsEqual(tag, 0, buf, wordAt + 4, tagLength)) {
        this.stats.authFailures++;
        return SrtpDrop.AUTH_FAILED;
      }
      if (encrypted) {
        const cm = this.rtcpCm!;
        this.writeCmIv(cm.ivBuffer, this.keys.rtcpSalt, ssrc, 0, 0, index);
        cm.xor(buf, 8, end);
      }
    }
    if (!state) {
      state = { next: 0, replay: undefined };
      this.rtcp.set(ssrc, state);
    }
    state.replay ??= new ReplayWindow(this.replaySize);
    state.replay.accept(index);
    this.stats.rtcpUnprotected++;
    return end;
  }

  /** AES-CM IV (RFC 3711 §4.1.1): (salt << 16) XOR (ssrc << 64) XOR (index << 16). */
  private writeCmIv(iv: Buffer, salt: Buffer, ssrc: number, roc: number, seq: number, rtcpIndex?: number): void {
    iv.fill(0);
    iv.writeUInt32BE(ssrc >>> 0, 4);
    if (rtcpIndex === undefined) {
      iv.writeUInt32BE(roc >>> 0, 8);
      iv.writeUInt16BE(seq, 12);
    } else {
      iv.writeUInt32BE(rtcpIndex >>> 0, 10);
    }
    for (let i = 0; i < 14; i++) iv[i]! ^= salt[i]!;
  }

  /** RFC 7714 §8.1: 00 00 || SSRC || ROC || SEQ, XOR salt. */
  private rtpGcmIv(ssrc: number, roc: number, seq: number): Buffer {
    const iv = this.gcmIv;
    iv[0] = 0;
    iv[1] = 0;
    iv.writeUInt32BE(ssrc >>> 0, 2);
    iv.writeUInt32BE(roc >>> 0, 6);
    iv.writeUInt16BE(seq, 10);
    const salt = this.keys.rtpSalt;
    for (let i = 0; i < 12; i++) iv[i]! ^= salt[i]!;
    return iv;
  }

  /** RFC 7714 §9.1: 00 00 || SSRC || 00 00 || 0 + SRTCP index, XOR salt. */
  private rtcpGcmIv(ssrc: number, index: number): Buffer {
    const iv = this.gcmIv;
    iv.fill(0);
    iv.writeUInt32BE(ssrc >>> 0, 2);
    iv.writeUInt32BE(index >>> 0, 8);
    const salt = this.keys.rtcpSalt;
    for (let i = 0; i < 12; i++) iv[i]! ^= salt[i]!;
    return iv;
  }

  /** Encrypts buf[from, end) with AAD buf[start, from) (+ extraAad), writes the tag at end. */
  private gcmSeal(key: Buffer, iv: Buffer, buf: Buffer, start: number, from: number, end: number, extraAad: Buffer | undefined): number {
    const cipher = createCipheriv(this.gcmAlgorithm, key, iv, { authTagLength: GCM_TAG });
    cipher.setAAD(extraAad ?? buf.subarray(start, from));
    if (end > from) cipher.update(buf.subarray(from, end)).copy(buf, from);
    cipher.final();
    cipher.getAuthTag().copy(buf, end);
    return end + GCM_TAG;
  }

  /** Decrypts buf[from, end) in place if the tag at end authenticates it; false otherwise (buf unchanged). */
  private gcmOpen(key: Buffer, iv: Buffer, buf: Buffer, start: number, from: number, end: number, aad: Buffer | undefined): boolean {
    const decipher = createDecipheriv(this.gcmAlgorithm, key, iv, { authTagLength: GCM_TAG });
    decipher.setAuthTag(buf.subarray(end, end + GCM_TAG));
    if (aad) {
      decipher.setAAD(aad);
    } else {
      decipher.setAAD(buf.subarray(start, from));
    }
    const plain = end > from ? decipher.update(buf.subarray(from, end)) : undefined;
    try {
      decipher.final();
    } catch {
      return false;
    }
    plain?.copy(buf, from);
    return true;
  }
}

/**
 * RFC 3711 §3.3.1: the rollover counter v the packet with sequence number `seq` most
 * likely belongs to (ROC - 1, ROC or ROC + 1); -1 when that would be below zero.
 */
function estimateRoc(state: RtpState, seq: number): number {
  const { roc, sl } = state;
  if (sl < 32768) {
    if (seq - sl > 32768) return roc - 1;
    return roc;
  }
  if (sl - 32768 > seq) return roc + 1;
  return roc;
}

/** Length of the RTP header (fixed part, CSRCs, extension) of buf[0, length), or -1. */
export function rtpHeaderLength(buf: Buffer, length: number): number {
  if (length < 12) return -1;
  const b0 = buf[0]!;
  if (b0 >>> 6 !== 2) return -1;
  let hl = 12 + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (length < hl + 4) return -1;
    hl += 4 + buf.readUInt16BE(hl + 2) * 4;
  }
  return hl <= length ? hl : -1;
}
