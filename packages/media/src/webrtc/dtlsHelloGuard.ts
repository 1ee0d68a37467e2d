/**
 * One HelloVerifyRequest per handshake from the engine's DTLS server.
 *
 * werift's DTLS server answers every ClientHello without a cookie with a
 * HelloVerifyRequest (RFC 6347 §4.2.1). A client whose event loop is busy (many peer
 * connections in one process: the load generator, Node clients, tests) may retransmit
 * its first ClientHello before it has handled the first HelloVerifyRequest; the second
 * HelloVerifyRequest then reaches a werift client that has moved on, and werift's client
 * fails the whole handshake on it (its Flight3 throws when it is already in flight 3).
 * Browsers do not mind either way. So a repeated cookieless ClientHello within
 * REPEAT_MS of the last one we answered is not answered again: a client that got the
 * first answer goes on with its cookie; one whose answer was lost retransmits again
 * later (werift after 0.5, 1.5, 3 s, ...; libwebrtc after 1, 3 s) and is answered then.
 */
const REPEAT_MS = 2000;
const CLIENT_HELLO = 1;

interface Handshake {
  msg_type: number;
  fragment: Buffer;
}
interface DtlsSocketLike {
  onHandleHandshakes: (assembled: Handshake[]) => Promise<void>;
}
interface DtlsTransportLike {
  role: 'auto' | 'server' | 'client';
}

const guarded = new WeakSet<object>();

/** Makes the DTLS server that `transport` will create answer a repeated cookieless ClientHello once per REPEAT_MS. */
export function guardHelloVerifyRequests(transport: DtlsTransportLike): void {
  if (guarded.has(transport)) return;
  guarded.add(transport);
  let current: unknown = (transport as { dtls?: unknown }).dtls;
  Object.defineProperty(transport, 'dtls', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (value: unknown) => {
      current = value;
      if (transport.role === 'server' && isDtlsSocket(value)) guardServer(value);
    },
  });
}

function isDtlsSocket(value: unknown): value is DtlsSocketLike {
  return typeof value === 'object' && value !== null && typeof (value as { onHandleHandshakes?: unknown }).onHandleHandshakes === 'function';
}

function guardServer(server: DtlsSocketLike): void {
  const original = server.onHandleHandshakes;
  let answeredAt = -Infinity;
  server.onHandleHandshakes = (assembled: Handshake[]): Promise<void> => {
    const kept = assembled.filter((h) => {
      if (h.msg_type !== CLIENT_HELLO || !isCookieless(h.fragment)) return true;
      const now = Date.now();
      if (now - answeredAt < REPEAT_MS) return false;
      answeredAt = now;
      return true;
    });
    return kept.length === 0 ? Promise.resolve() : original.call(server, kept);
  };
}

/** ClientHello: version (2), random (32), session_id <0..32>, cookie <0..255>, ... */
export function isCookieless(fragment: Buffer): boolean {
  const sessionIdLength = fragment[34];
  if (sessionIdLength === undefined) return false;
  const cookieLength = fragment[35 + sessionIdLength];
  return cookieLength === 0;
}
