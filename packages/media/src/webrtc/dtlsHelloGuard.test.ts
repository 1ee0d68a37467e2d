import { afterEach, describe, expect, it, vi } from 'vitest';
import { guardHelloVerifyRequests, isCookieless } from './dtlsHelloGuard.js';

/** A ClientHello body: version, random, session id, cookie, then the rest. */
function clientHello(sessionId: number, cookie: number): Buffer {
  return Buffer.concat([Buffer.from([0xfe, 0xfd]), Buffer.alloc(32, 7), Buffer.from([sessionId]), Buffer.alloc(sessionId, 1), Buffer.from([cookie]), Buffer.alloc(cookie, 2), Buffer.from([0, 2, 0xc0, 0x2b])]);
}

type Handshake = { msg_type: number; fragment: Buffer };

function fakeServerOn(role: 'server' | 'client') {
  const seen: Handshake[][] = [];
  const transport: { role: 'auto' | 'server' | 'client'; dtls?: { onHandleHandshakes: (a: Handshake[]) => Promise<void> } } = { role: 'auto' };
  guardHelloVerifyRequests(transport);
  transport.role = role; // werift settles the role before it creates its DTLS socket
  transport.dtls = { onHandleHandshakes: async (a) => void seen.push(a) };
  return { seen, handle: (a: Handshake[]) => transport.dtls!.onHandleHandshakes(a) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('one HelloVerifyRequest per ClientHello burst from the DTLS server', () => {
  it('reads the cookie length after the session id', () => {
    expect(isCookieless(clientHello(0, 0))).toBe(true);
    expect(isCookieless(clientHello(32, 0))).toBe(true);
    expect(isCookieless(clientHello(0, 20))).toBe(false);
    expect(isCookieless(clientHello(32, 20))).toBe(false);
    expect(isCookieless(Buffer.alloc(10))).toBe(false);
  });

  it('passes the first cookieless ClientHello, drops a repeat within 2 s, answers one after, and always passes cookies and other messages', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
    const { seen, handle } = fakeServerOn('server');
    const hello = { msg_type: 1, fragment: clientHello(0, 0) };
    const withCookie = { msg_type: 1, fragment: clientHello(0, 20) };
    const keyExchange = { msg_type: 16, fragment: Buffer.alloc(40) };
    await handle([hello]);
    vi.setSystemTime(1_000_500); // werift's first retransmission
    await handle([hello]);
    await handle([withCookie]);
    await handle([hello, keyExchange]);
    vi.setSystemTime(1_002_600); // a retransmission after an answer that was lost
    await handle([hello]);
    expect(seen).toEqual([[hello], [withCookie], [keyExchange], [hello]]);
  });

  it('leaves a DTLS client alone', async () => {
    const { seen, handle } = fakeServerOn('client');
    const hello = { msg_type: 1, fragment: clientHello(0, 0) };
    await handle([hello]);
    await handle([hello]);
    expect(seen).toHaveLength(2);
  });
});
