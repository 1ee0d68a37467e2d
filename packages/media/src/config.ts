import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { MediaError } from './core/errors.js';
import { isPacketCoreSetting, type PacketCoreSetting } from './native/PacketCore.js';

export interface IceServerConfig {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** Settings of the media engine. Every field is optional; defaults in comments. */
export interface MediaConfig {
  /**
   * Local addresses to gather host candidates on. Default: every non-internal IPv4
   * address of the machine. Tests pass ['127.0.0.1'] to keep traffic on loopback.
   */
  iceAddresses?: string[];
  /** UDP port range for media. Default [40000, 49999]. */
  portRange: [number, number];
  /** Address announced in candidates instead of the local one (NAT). Default: none. */
  announcedAddress?: string;
  /**
   * STUN/TURN servers the media server itself uses. Default: none, so no
   * server-reflexive candidates are gathered and no STUN leaves the machine.
   */
  iceServers: IceServerConfig[];
  /** At most one keyframe request per source per this interval (ms). Default 1000. */
  keyframeIntervalMs: number;
  /** Retransmission history kept per source (ms). Default 1000. */
  retransmissionMs: number;
  /** Interval between RTCP sender reports and REMB messages (ms). Default 1000. */
  rtcpIntervalMs: number;
  /**
   * One UDP port for every WebRTC peer of the process (ICE host candidates of all
   * endpoints share a socket per ICE address; datagrams are told apart by ICE ufrag,
   * then by 5-tuple: see net/UdpMux.ts). false: a socket per endpoint from portRange.
   * Default: single-port mode on the first port of portRange (40000; the next free one
   * of the range if another socket of the machine already holds it). A port set here
   * must be free: the first endpoint fails with an error naming it otherwise.
   */
  udpPort?: number | false;
  /**
   * The packet path of the engine's own transport (transport/) on the shared port:
   * 'native' the native packet core (native/packet_core.cc: batched receive and send,
   * SRTP and routing off the JavaScript thread; an error when its addon is not built),
   * 'typescript' the reference path in TypeScript, 'auto' the native core when its addon
   * loads, else TypeScript. Default: ROUNDTABLE_PACKET_CORE, else 'auto'.
   */
  packetCore?: PacketCoreSetting;
  /**
   * The downlink bandwidth estimate of the rooms' receiving transports (see
   * docs/adaptation.md): its start value and bounds, bits/s. Default start 600000,
   * min 50000, max 10000000.
   */
  bandwidthEstimation?: { startBitrate?: number; minBitrate?: number; maxBitrate?: number };
}

export const DEFAULT_MEDIA_CONFIG: MediaConfig = {
  portRange: [40000, 49999],
  iceServers: [],
  keyframeIntervalMs: 1000,
  retransmissionMs: 1000,
  rtcpIntervalMs: 1000,
};

export function resolveMediaConfig(partial: Partial<MediaConfig> = {}): MediaConfig {
  const config: MediaConfig = { ...DEFAULT_MEDIA_CONFIG, ...stripUndefined(partial) };
  const [min, max] = config.portRange;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || min >= max) {
    throw new MediaError('INVALID_ARGUMENT', `invalid media port range ${min}-${max}: need 1024 <= min < max <= 65535`);
  }
  for (const address of config.iceAddresses ?? []) {
    if (!isIP(address)) throw new MediaError('INVALID_ARGUMENT', `invalid ICE address '${address}'`);
  }
  if (config.announcedAddress !== undefined && !isIP(config.announcedAddress)) {
    throw new MediaError('INVALID_ARGUMENT', `invalid announced address '${config.announcedAddress}'`);
  }
  if (config.udpPort !== undefined && config.udpPort !== false) {
    const port = config.udpPort;
    if (!Number.isInteger(port) || port < 1024 || port > 65535) {
      throw new MediaError('INVALID_ARGUMENT', `invalid media UDP port ${String(port)}: need an integer 1024-65535, or false for the port range`);
    }
  }
  if (config.packetCore !== undefined && !isPacketCoreSetting(config.packetCore)) {
    throw new MediaError('INVALID_ARGUMENT', `invalid packet core '${String(config.packetCore)}': need auto, native or typescript`);
  }
  const bwe = config.bandwidthEstimation;
  if (bwe !== undefined) {
    for (const [key, value] of Object.entries(bwe)) {
      if (value !== undefined && !(Number.isInteger(value) && value >= 10_000 && value <= 1_000_000_000)) {
        throw new MediaError('INVALID_ARGUMENT', `bandwidthEstimation.${key} must be a whole number of bits/s from 10000 to 1000000000`);
      }
    }
    if (bwe.minBitrate !== undefined && bwe.maxBitrate !== undefined && bwe.minBitrate > bwe.maxBitrate) {
      throw new MediaError('INVALID_ARGUMENT', 'bandwidthEstimation.minBitrate must not be above maxBitrate');
    }
  }
  for (const key of ['keyframeIntervalMs', 'retransmissionMs', 'rtcpIntervalMs'] as const) {
    if (!(config[key] > 0)) throw new MediaError('INVALID_ARGUMENT', `${key} must be a positive number`);
  }
  return config;
}

/**
 * Single-port mode's port: the configured one, or by default the first port of
 * portRange (the first free one of its first 32, should another socket of the machine
 * hold it); undefined in port-range mode.
 */
export function singleUdpPort(config: MediaConfig): number | readonly [number, number] | undefined {
  if (config.udpPort === false) return undefined;
  return config.udpPort ?? config.portRange;
}

/** The addresses host candidates are gathered on. */
export function hostAddresses(config: MediaConfig): string[] {
  if (config.iceAddresses && config.iceAddresses.length > 0) return [...config.iceAddresses];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.family === 'IPv4' && !info.internal) out.push(info.address);
    }
  }
  return out.length > 0 ? out : ['127.0.0.1'];
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
