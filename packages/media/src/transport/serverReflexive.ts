import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import type { IceServerConfig } from '../config.js';
import type { MuxAddress, UdpMux } from '../net/UdpMux.js';
import { BINDING_REQUEST, BINDING_SUCCESS, readXorMappedAddress, STUN_HEADER } from './stun.js';

/** A STUN server named by a `stun:` URL (RFC 7064): host and port (default 3478). */
export interface StunServerAddress {
  host: string;
  port: number;
}

/** The first `stun:` URL of `servers`, if any (`stuns:` and TURN are not used for a server-reflexive address). */
export function firstStunServer(servers: readonly IceServerConfig[]): StunServerAddress | undefined {
  for (const server of servers) {
    for (const url of [server.urls].flat()) {
      const m = /^stun:(?:\[([0-9a-fA-F:.]+)\]|([^:?[\]]+))(?::(\d{1,5}))?(?:\?.*)?$/.exec(url);
      if (!m) continue;
      const port = m[3] === undefined ? 3478 : Number(m[3]);
      if (port < 1 || port > 65535) continue;
      return { host: m[1] ?? m[2]!, port };
    }
  }
  return undefined;
}

export interface ServerReflexiveOptions {
  /** Give up after this long (ms). Default 5000 (as werift's gathering). */
  timeoutMs?: number;
  /** The request is sent again after this long, doubling each time (RFC 5389 §7.2.1). Default 250. */
  retransmitMs?: number;
}

/**
 * The address a STUN server sees the shared socket `mux` at (RFC 8445 §5.1.1.2, a
 * server-reflexive candidate's): a Binding request from the shared port, through a
 * binding of its own on the mux (the response is routed back by transaction id). No
 * answer within the timeout, an unresolvable host or an answer without
 * XOR-MAPPED-ADDRESS: undefined.
 */
export async function serverReflexiveAddress(mux: UdpMux, server: StunServerAddress, options: ServerReflexiveOptions = {}): Promise<MuxAddress | undefined> {
  const family = isIPv6(mux.address) ? 6 : 4;
  let ip = server.host;
  if (isIP(ip) === 0) {
    try {
      ip = (await lookup(ip, { family })).address;
    } catch {
      return undefined;
    }
  }
  if (isIP(ip) !== family || mux.isClosed) return undefined;
  const timeoutMs = options.timeoutMs ?? 5000;
  const to: MuxAddress = [ip, server.port];
  const transactionId = randomBytes(12);
  const request = Buffer.alloc(STUN_HEADER);
  request.writeUInt16BE(BINDING_REQUEST, 0);
  request.writeUInt32BE(0x2112a442, 4);
  transactionId.copy(request, 8);
  return new Promise((resolve) => {
    let interval = options.retransmitMs ?? 250;
    let retransmit: NodeJS.Timeout | undefined;
    const done = (address: MuxAddress | undefined): void => {
      clearTimeout(deadline);
      clearTimeout(retransmit);
      binding.close();
      resolve(address);
    };
    const binding = mux.bind((data) => {
      if (data.length < STUN_HEADER || data.readUInt16BE(0) !== BINDING_SUCCESS || !data.subarray(8, STUN_HEADER).equals(transactionId)) return;
      const mapped = readXorMappedAddress(data);
      if (mapped) done(mapped);
    });
    // Neither timer keeps the process alive: a query left running ends at its deadline.
    const deadline = setTimeout(() => done(undefined), timeoutMs).unref();
    const send = (): void => {
      if (mux.isClosed) return done(undefined);
      binding.send(request, to);
      retransmit = setTimeout(send, interval).unref();
      interval *= 2;
    };
    send();
  });
}
