import { createServer, get, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RoomName } from '@roundtable/protocol';
import { AuthService } from '../auth/AuthService.js';
import { SqliteStore } from '../store/SqliteStore.js';
import { TestClient, type WireResponse } from '../testing/TestClient.js';
import { TestServer, type TestServerOptions } from '../testing/TestServer.js';
import { REQUEST_TYPES } from './frames.js';
import { SignalingError, type HandlerTable } from './Handlers.js';
import { InMemoryRouter } from './InMemoryRouter.js';
import type { DeviceLink } from './Router.js';
import { SignalingServer } from './SignalingServer.js';

const room = (name: string) => name as RoomName;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SignalingServer', () => {
  let server: TestServer | undefined;
  const start = async (options: TestServerOptions = {}) => (server = await TestServer.start(options));
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  describe('login', () => {
    it('register opens the first device, login another, and hello binds the socket to one of them', async () => {
      const s = await start();
      const client = await s.connect();
      const registered = await client.request('register', { username: 'alice', password: 'password-123', displayName: 'Alice' });
      const user = { id: registered.userId, username: 'alice', displayName: 'Alice' };
      expect(registered).toEqual({ userId: expect.any(String), token: expect.any(String), deviceId: expect.any(String), expiresAt: expect.any(Number), user });
      const login = await client.request('login', { username: 'alice', password: 'password-123', deviceName: 'test' });
      expect(login).toEqual({ userId: user.id, token: expect.any(String), deviceId: expect.any(String), expiresAt: expect.any(Number), user });
      expect(login.deviceId).not.toBe(registered.deviceId);
      expect(s.router.isOnline(user.id)).toBe(false);
      const hello = await client.request('hello', { token: login.token });
      expect(hello).toEqual({ userId: user.id, deviceId: login.deviceId, expiresAt: login.expiresAt, user });
      expect(s.router.devicesOf(user.id).map((link) => link.deviceId)).toEqual([login.deviceId]);
      expect(await client.request('contacts.list')).toEqual([]);
    });

    it('a wrong password and an unknown user get the same UNAUTHENTICATED answer', async () => {
      const s = await start();
      await s.signIn('alice');
      const client = await s.connect();
      const wrong = await client.send('login', { username: 'alice', password: 'not-the-password' });
      const unknown = await client.send('login', { username: 'nobody', password: 'not-the-password' });
      expect(wrong).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      expect(unknown).toEqual({ ...wrong, id: unknown.id });
    });

    it('register with a taken username is answered CONFLICT', async () => {
      const s = await start();
      await s.signIn('alice');
      const client = await s.connect();
      expect(await client.send('register', { username: 'alice', password: 'password-456' })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    });

    it('hello with an unknown token is answered UNAUTHENTICATED and binds nothing', async () => {
      const s = await start();
      const client = await s.connect();
      expect(await client.send('hello', { token: 'forged' })).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      expect(await client.send('contacts.list')).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      expect(s.router.onlineUserCount).toBe(0);
    });

    it('an unauthenticated socket gets UNAUTHENTICATED for every request but register, login and hello, and nothing happens', async () => {
      const s = await start();
      const alice = await s.signIn('alice');
      const bob = await s.signIn('bob');
      const conversation = await alice.request('conversations.direct', { userId: bob.userId });
      const anonymous = await s.connect();
      const guarded = [...REQUEST_TYPES].filter((type) => !['register', 'login', 'hello'].includes(type));
      expect(guarded).toContain('messages.send');
      for (const type of guarded) {
        // Valid or not, the fields are not even looked at.
        const id = anonymous.takeId();
        const response = await anonymous.sendWithId(id, { type, conversationId: conversation.id, text: 'sneaky' });
        expect(response, type).toEqual({ id, ok: false, error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
      }
      await bob.expectNo('message');
      expect(await s.store.history(conversation.id, undefined, 10)).toEqual([]);
    });

    it('an expired token is refused at hello, and a bound socket whose token expires is told session.ended', async () => {
      const s = await start({ tokenTtlMs: 1500 });
      const alice = await s.signIn('alice');
      await sleep(1600);
      expect(await alice.send('contacts.list')).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(/expired/) } });
      await alice.waitFor('session.ended', (n) => n.reason === 'expired');
      expect(s.router.isOnline(alice.userId)).toBe(false);
      expect(await alice.send('hello', { token: alice.token! })).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    });

    it('the heartbeat ends a session whose token expired while the socket was idle', async () => {
      const s = await start({ tokenTtlMs: 1000, server: { pingIntervalMs: 100 } });
      const alice = await s.signIn('alice');
      await alice.waitFor('session.ended', (n) => n.reason === 'expired', 3000);
      expect(s.router.isOnline(alice.userId)).toBe(false);
      expect(alice.isOpen).toBe(true);
    });

    it('logout ends the device session: this socket by its response, other sockets of the device by session.ended', async () => {
      const s = await start();
      const alice = await s.signIn('alice');
      const sameDevice = await s.connect();
      await sameDevice.request('hello', { token: alice.token! });
      const otherDevice = await s.signIn('alice');
      expect(s.router.devicesOf(alice.userId)).toHaveLength(3);
      expect(await alice.request('logout')).toEqual({});
      await sameDevice.waitFor('session.ended', (n) => n.reason === 'loggedOut');
      await alice.expectNo('session.ended', () => true, 100);
      expect(s.router.devicesOf(alice.userId).map((link) => link.deviceId)).toEqual([otherDevice.deviceId]);
      expect(await alice.send('contacts.list')).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      expect(await alice.send('hello', { token: alice.token! })).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      expect(await otherDevice.request('contacts.list')).toEqual([]);
    });

    it('a closed socket is unregistered and onDeviceGone fires with its link', async () => {
      const s = await start();
      const gone: DeviceLink[] = [];
      s.router.onDeviceGone((link) => gone.push(link));
      const alice = await s.signIn('alice');
      await alice.close();
      await waitUntil(() => gone.length === 1);
      expect(gone[0]).toMatchObject({ userId: alice.userId, deviceId: alice.deviceId });
      expect(s.router.isOnline(alice.userId)).toBe(false);
    });
  });

  describe('bad frames', () => {
    it('malformed JSON, a non-object, a missing id, an unknown type and missing fields each get a BAD_REQUEST that names the problem', async () => {
      const s = await start();
      const alice = await s.signIn('alice');
      alice.sendRaw('{"id": 1, "type": ');
      expect((await alice.waitForError('BAD_REQUEST')).error.message).toMatch(/not valid JSON/);
      alice.sendRaw('[1, 2, 3]');
      expect((await alice.waitForError('BAD_REQUEST')).error.message).toMatch(/JSON object/);
      alice.sendRaw('{"type": "contacts.list"}');
      expect(await alice.waitForError('BAD_REQUEST')).toEqual({ id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'id must be a non-negative integer' } });
      const unknown = alice.takeId();
      expect(await alice.sendWithId(unknown, { type: 'teleport' })).toEqual({ id: unknown, ok: false, error: { code: 'BAD_REQUEST', message: "unknown request type 'teleport'" } });
      const missing = alice.takeId();
      const response = await alice.sendWithId(missing, { type: 'messages.send', text: 'hi' });
      expect(response).toMatchObject({ id: missing, ok: false, error: { code: 'BAD_REQUEST' } });
      expect(errorMessage(response)).toMatch(/^invalid 'messages.send' request: conversationId: /);
      expect(await alice.request('contacts.list')).toEqual([]);
    });

    it('a binary frame gets BAD_REQUEST and the socket stays usable', async () => {
      const s = await start();
      const alice = await s.signIn('alice');
      alice.sendRaw(Buffer.from([1, 2, 3]), { binary: true });
      expect((await alice.waitForError('BAD_REQUEST')).error.message).toMatch(/binary frames are not accepted/);
      expect(await alice.request('contacts.list')).toEqual([]);
    });

    it('a frame over maxFrameBytes gets TOO_LARGE and the socket is closed with 1009; others keep working', async () => {
      const s = await start({ server: { maxFrameBytes: 64 * 1024 } });
      const alice = await s.signIn('alice');
      const bob = await s.signIn('bob');
      alice.sendRaw(JSON.stringify({ id: 1, type: 'users.find', username: 'x'.repeat(100 * 1024) }));
      expect(await alice.waitForError('TOO_LARGE')).toMatchObject({ id: null, error: { message: expect.stringMatching(/limited to 65536 bytes/) } });
      expect((await alice.waitForClose()).code).toBe(1009);
      expect(await bob.request('users.find', { username: 'bob' })).toMatchObject({ username: 'bob' });
      await waitUntil(() => s.router.devicesOf(alice.userId).length === 0);
    });

    it('a frame far over the limit closes the socket with 1009 straight away', async () => {
      const s = await start({ server: { maxFrameBytes: 16 * 1024 } });
      const alice = await s.signIn('alice');
      alice.sendRaw('x'.repeat(200 * 1024));
      expect((await alice.waitForClose()).code).toBe(1009);
    });
  });

  describe('rate limit', () => {
    it('requests over the rate are answered RATE_LIMITED with their ids, and the socket stays open', async () => {
      const s = await start({ server: { ratePerSecond: 10, rateBurst: 5, closeAfterRefused: 1000 } });
      const alice = await s.signIn('alice');
      await sleep(600); // refill the bucket the sign-in drew on
      const ids = Array.from({ length: 20 }, () => alice.takeId());
      for (const id of ids) alice.sendRaw(JSON.stringify({ id, type: 'contacts.list' }));
      const responses = await collectResponses(alice, ids);
      const limited = responses.filter((r) => !r.ok && r.error.code === 'RATE_LIMITED');
      expect(responses.filter((r) => r.ok).length).toBeGreaterThanOrEqual(5);
      expect(limited.length).toBeGreaterThanOrEqual(10);
      expect(alice.isOpen).toBe(true);
      await sleep(300);
      expect(await alice.request('contacts.list')).toEqual([]);
    });

    it('a flood of 500 requests at once is refused and the socket closed with 1008; another user is unaffected', async () => {
      const s = await start();
      const alice = await s.signIn('alice');
      const bob = await s.signIn('bob');
      const flood = Array.from({ length: 500 }, () => JSON.stringify({ id: alice.takeId(), type: 'contacts.list' }));
      for (const frame of flood) alice.sendRaw(frame);
      expect((await alice.waitForClose()).code).toBe(1008);
      const rateLimited = alice.frames.filter((f) => (f as WireResponse).ok === false && (f as { error: { code: string } }).error.code === 'RATE_LIMITED');
      expect(rateLimited.length).toBeGreaterThanOrEqual(1);
      expect(await bob.request('contacts.list')).toEqual([]);
    });
  });

  describe('dispatch', () => {
    const order: string[] = [];
    const testModule: HandlerTable = {
      'room.join': async (request) => {
        if (request.room === 'full') throw new SignalingError('CALL_FULL', 'the room is full');
        if (request.room === 'broken') throw new Error('secret internal detail');
        if (request.room === 'slow') await sleep(100);
        order.push(request.room);
        return { joined: request.room };
      },
      'room.leave': async () => new Promise<never>(() => undefined),
    };

    it('a SignalingError from a handler is sent with its code; any other error becomes a generic INTERNAL', async () => {
      const s = await start({ modules: () => [testModule] });
      const alice = await s.signIn('alice');
      expect(await alice.request('room.join', { room: room('ok') })).toEqual({ joined: 'ok' });
      expect(await alice.send('room.join', { room: room('full') })).toMatchObject({ ok: false, error: { code: 'CALL_FULL', message: 'the room is full' } });
      const broken = await alice.send('room.join', { room: room('broken') });
      expect(broken).toMatchObject({ ok: false, error: { code: 'INTERNAL', message: 'internal error' } });
      expect(JSON.stringify(broken)).not.toMatch(/secret/);
    });

    it("a socket's requests run one at a time, in the order sent", async () => {
      const s = await start({ modules: () => [testModule] });
      const alice = await s.signIn('alice');
      order.length = 0;
      await Promise.all([alice.request('room.join', { room: room('slow') }), alice.request('room.join', { room: room('fast') })]);
      expect(order).toEqual(['slow', 'fast']);
    });

    it('a request that never finishes is answered INTERNAL after requestTimeoutMs, and the next one runs', async () => {
      const s = await start({ modules: () => [testModule], server: { requestTimeoutMs: 200 } });
      const alice = await s.signIn('alice');
      expect(await alice.send('room.leave', { room: room('x') })).toMatchObject({ ok: false, error: { code: 'INTERNAL', message: 'the request timed out' } });
      expect(await alice.request('room.join', { room: room('after') })).toEqual({ joined: 'after' });
    });

    it('a type no module serves is answered BAD_REQUEST', async () => {
      const s = await start();
      const alice = await s.signIn('alice');
      expect(await alice.send('room.join', { room: room('lobby') })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/not served/) } });
    });
  });

  describe('lifecycle', () => {
    it('close() sends session.ended serverShutdown to every socket, closes them with 1001, and is idempotent', async () => {
      const s = await start();
      const alice = await s.signIn('alice');
      const anonymous = await s.connect();
      await Promise.all([s.server.close(), s.server.close()]);
      expect(await alice.waitFor('session.ended')).toEqual({ type: 'session.ended', reason: 'serverShutdown' });
      expect(await anonymous.waitFor('session.ended')).toEqual({ type: 'session.ended', reason: 'serverShutdown' });
      expect((await alice.waitForClose()).code).toBe(1001);
      expect(s.router.onlineUserCount).toBe(0);
      expect(s.server.connectionCount).toBe(0);
    });

    it('a peer that stops answering pings is terminated and goes offline', async () => {
      const s = await start({ server: { pingIntervalMs: 100 } });
      const { token } = await (async () => {
        await s.auth.register({ username: 'mute', password: 'password-123' });
        return s.auth.login({ username: 'mute', password: 'password-123' });
      })();
      const raw = await RawSocket.open(new URL(s.url));
      raw.sendText(JSON.stringify({ id: 1, type: 'hello', token }));
      const user = await s.auth.authenticate(token);
      await waitUntil(() => s.router.isOnline(user.userId));
      // The raw socket never answers pings.
      await raw.closed;
      await waitUntil(() => !s.router.isOnline(user.userId));
      expect(s.server.connectionCount).toBe(0);
    });

    it('attach() serves /ws on an existing HTTP server beside its other routes, and close() leaves that server running', async () => {
      const store = new SqliteStore({ path: ':memory:' });
      const router = new InMemoryRouter();
      const signaling = new SignalingServer({ auth: new AuthService({ store, scrypt: { N: 1024, r: 8, p: 1 } }), router });
      const http: Server = createServer((_request, response) => response.end('web app'));
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      try {
        signaling.attach(http);
        const port = (http.address() as AddressInfo).port;
        const client = await TestClient.connect(`ws://127.0.0.1:${port}/ws`);
        expect(await client.request('register', { username: 'alice', password: 'password-123' })).toMatchObject({ user: { username: 'alice' } });
        expect(await httpGet(port)).toBe('web app');
        await signaling.close();
        expect((await client.waitForClose()).code).toBe(1001);
        expect(await httpGet(port)).toBe('web app');
      } finally {
        await signaling.close();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        await store.close();
      }
    });
  });
});

function errorMessage(response: WireResponse): string {
  return response.ok ? '' : response.error.message;
}

async function collectResponses(client: TestClient, ids: number[]): Promise<WireResponse[]> {
  const responses: WireResponse[] = [];
  for (const id of ids) responses.push((await client.waitForFrame((f) => (f as WireResponse).id === id)) as WireResponse);
  return responses;
}

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/' }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** A bare WebSocket over TCP that performs the handshake, can send text frames and never answers pings. */
class RawSocket {
  private constructor(
    private readonly socket: Socket,
    readonly closed: Promise<void>,
  ) {}

  static async open(url: URL): Promise<RawSocket> {
    const socket = connect(Number(url.port), url.hostname);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise<void>((resolve, reject) =>
      socket.once('data', (data: Buffer) => (data.toString().startsWith('HTTP/1.1 101') ? resolve() : reject(new Error(data.toString())))),
    );
    return new RawSocket(socket, closed);
  }

  /** A masked text frame (clients must mask; a zero mask leaves the payload as is). */
  sendText(text: string): void {
    const payload = Buffer.from(text);
    if (payload.length >= 126) throw new Error('short frames only');
    this.socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
  }
}
