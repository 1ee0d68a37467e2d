import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SrtpSession } from '../srtp/index.js';
import { DtlsCertificate, DtlsSession, isCookieless, isCookielessClientHello } from './DtlsSession.js';

/** A ClientHello body: version, random, session id, cookie, then the rest. */
function clientHelloBody(sessionId: number, cookie: number): Buffer {
  return Buffer.concat([Buffer.from([0xfe, 0xfd]), Buffer.alloc(32, 7), Buffer.from([sessionId]), Buffer.alloc(sessionId, 1), Buffer.from([cookie]), Buffer.alloc(cookie, 2), Buffer.from([0, 2, 0xc0, 0x2b])]);
}

afterEach(() => {
  vi.restoreAllMocks();
});

interface End {
  session: DtlsSession;
  keys: Promise<SrtpSession>;
  sent: Buffer[];
}

/**
 * Two sessions wired to each other in memory (each datagram delivered on the next tick).
 * With `holdClient`, what the client sends is only recorded: the test delivers it.
 */
async function pair(serverExpects?: string, holdClient = false): Promise<{ server: End; client: End }> {
  const [serverCert, clientCert] = await Promise.all([DtlsCertificate.generate(), DtlsCertificate.generate()]);
  const ends: Partial<Record<'server' | 'client', End>> = {};
  const make = (role: 'server' | 'client', own: DtlsCertificate, peer: DtlsCertificate, expected?: string): End => {
    let resolve!: (s: SrtpSession) => void;
    let reject!: (e: Error) => void;
    const keys = new Promise<SrtpSession>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const sent: Buffer[] = [];
    const other = role === 'server' ? 'client' : 'server';
    const session = new DtlsSession(
      role,
      own,
      { algorithm: 'sha-256', value: expected ?? peer.fingerprint },
      (data) => {
        sent.push(Buffer.from(data));
        if (holdClient && role === 'client') return;
        setImmediate(() => ends[other]?.session.receive(Buffer.from(data)));
      },
      { connected: (srtp) => resolve(srtp), failed: (reason) => reject(new Error(reason)) },
    );
    return { session, keys, sent };
  };
  ends.server = make('server', serverCert, clientCert, serverExpects);
  ends.client = make('client', clientCert, serverCert);
  return { server: ends.server, client: ends.client };
}

describe('DtlsSession', () => {
  it('a server and a client finish the handshake and get mirrored SRTP keys: what one protects the other unprotects', async () => {
    const { server, client } = await pair();
    client.session.start();
    const [s, c] = await Promise.all([server.keys, client.keys]);
    expect(server.session.isConnected && client.session.isConnected).toBe(true);
    const packet = Buffer.alloc(100);
    packet[0] = 0x80;
    packet[1] = 96;
    packet.writeUInt32BE(1234, 8);
    const length = c.outbound.protectRtp(packet, 40);
    expect(s.inbound.unprotectRtp(packet, length)).toBe(40);
    server.session.close();
    client.session.close();
  });

  it('a peer certificate that does not match the SDP fingerprint fails the session', async () => {
    const { server, client } = await pair('00:11:22');
    client.keys.catch(() => undefined);
    client.session.start();
    await expect(server.keys).rejects.toThrow(/does not match/);
    client.session.close();
  });

  it('a ClientHello body is cookieless when its cookie length, read after the session id, is 0', () => {
    expect(isCookieless(clientHelloBody(0, 0))).toBe(true);
    expect(isCookieless(clientHelloBody(32, 0))).toBe(true);
    expect(isCookieless(clientHelloBody(0, 20))).toBe(false);
    expect(isCookieless(clientHelloBody(32, 20))).toBe(false);
    expect(isCookieless(Buffer.alloc(10))).toBe(false);
  });

  it('the server answers a repeated cookieless ClientHello once per 2 s', async () => {
    // The client's datagrams are delivered by hand, so the handshake cannot go on (and
    // make the server stop checking hellos) between the two deliveries.
    const { server, client } = await pair(undefined, true);
    client.keys.catch(() => undefined);
    client.session.start();
    while (client.sent.length === 0) await new Promise((r) => setTimeout(r, 10));
    const hello = client.sent[0]!;
    expect(isCookielessClientHello(hello)).toBe(true);
    const now = performance.now();
    const clock = vi.spyOn(performance, 'now').mockReturnValue(now);
    expect(server.session.receive(hello)).toBe('taken');
    clock.mockReturnValue(now + 500); // werift's first retransmission
    expect(server.session.receive(hello)).toBe('repeat');
    clock.mockReturnValue(now + 2100); // a retransmission after an answer that was lost
    expect(server.session.receive(hello)).toBe('taken');
    clock.mockRestore();
    // The same hello cut in two fragments (as Chromium sends a large one) is not taken for a repeat.
    const first = Buffer.from(hello.subarray(0, 80));
    first.writeUInt16BE(80 - 13, 11);
    first.writeUIntBE(80 - 25, 22, 3);
    expect(isCookielessClientHello(first)).toBe(false);
    const second = Buffer.concat([hello.subarray(0, 25), hello.subarray(80)]);
    second.writeUInt16BE(second.length - 13, 11);
    second.writeUIntBE(80 - 25, 19, 3);
    second.writeUIntBE(second.length - 25, 22, 3);
    expect(isCookielessClientHello(second)).toBe(false);
    server.session.close();
    client.session.close();
  });
});
