import { AuthService, type LoginLimits } from '../auth/AuthService.js';
import type { ScryptParams } from '../auth/passwords.js';
import { IceServers, type IceServersOptions } from '../ice/IceServers.js';
import { iceHandlers } from '../ice/iceHandlers.js';
import { ImService } from '../im/ImService.js';
import { imHandlers } from '../im/imHandlers.js';
import type { Logger } from '../logger.js';
import type { HandlerTable } from '../net/Handlers.js';
import { InMemoryRouter } from '../net/InMemoryRouter.js';
import { SignalingServer, type SignalingServerOptions } from '../net/SignalingServer.js';
import { SqliteStore } from '../store/SqliteStore.js';
import { TestClient, type SignInOptions, type TestClientOptions } from './TestClient.js';

/** The parts a module's handler table is built from. */
export interface TestServerParts {
  store: SqliteStore;
  router: InMemoryRouter;
  auth: AuthService;
  im: ImService;
}

export interface TestServerOptions {
  /** SQLite file. Default ':memory:'. */
  dbPath?: string;
  /** Default 30 days. */
  tokenTtlMs?: number;
  /** Login and registration limits. Default: the product's (`DEFAULT_LOGIN_LIMITS`). */
  loginLimits?: LoginLimits;
  /** scrypt cost. Default: a cheap one (N 1024), so a suite can register many users. */
  scrypt?: ScryptParams;
  /** Default: one STUN and one TURN URL with a test secret. */
  iceServers?: IceServersOptions;
  /** SignalingServer limits (frame size, rate, ping...). */
  server?: Omit<SignalingServerOptions, 'auth' | 'router' | 'handlers'>;
  /** More handler tables (calls, rooms) beside IM and ICE. */
  modules?: (parts: TestServerParts) => HandlerTable[];
  logger?: Logger;
}

// Cheap scrypt so a suite can register many users; the production default is far costlier.
const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };

/**
 * A whole signaling server for tests: SQLite store, auth, router, IM, ICE and any extra
 * modules, on a WebSocket at 127.0.0.1 on a free port. `close()` closes the clients it
 * made, the server and the store.
 */
export class TestServer implements TestServerParts {
  private readonly clients = new Set<TestClient>();

  private constructor(
    readonly url: string,
    readonly server: SignalingServer,
    readonly store: SqliteStore,
    readonly router: InMemoryRouter,
    readonly auth: AuthService,
    readonly im: ImService,
  ) {}

  static async start(options: TestServerOptions = {}): Promise<TestServer> {
    const store = new SqliteStore({ path: options.dbPath ?? ':memory:' });
    const router = new InMemoryRouter(options.logger ? { logger: options.logger } : {});
    const auth = new AuthService({
      store,
      scrypt: options.scrypt ?? TEST_SCRYPT,
      ...(options.tokenTtlMs ? { tokenTtlMs: options.tokenTtlMs } : {}),
      ...(options.loginLimits ? { limits: options.loginLimits } : {}),
    });
    const im = new ImService({ store, router });
    const ice = new IceServers(options.iceServers ?? { urls: ['stun:127.0.0.1:3478', 'turn:127.0.0.1:3478'], sharedSecret: 'test-secret' });
    const handlers = [imHandlers(im), iceHandlers(ice), ...(options.modules?.({ store, router, auth, im }) ?? [])];
    const server = new SignalingServer({ ...options.server, auth, router, handlers, ...(options.logger ? { logger: options.logger } : {}) });
    try {
      const address = await server.listen({ host: '127.0.0.1', port: 0 });
      return new TestServer(`ws://127.0.0.1:${address.port}/ws`, server, store, router, auth, im);
    } catch (error) {
      await server.close();
      await store.close();
      throw error;
    }
  }

  /** A signed-in client on a new device of `username` (registered on first use). */
  async signIn(username: string, options: SignInOptions = {}): Promise<TestClient> {
    return this.track(await TestClient.signIn(this.url, username, options));
  }

  /** A connected client that has not logged in. */
  async connect(options: TestClientOptions = {}): Promise<TestClient> {
    return this.track(await TestClient.connect(this.url, options));
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients].map((client) => client.close()));
    await this.server.close();
    await this.store.close();
  }

  private track(client: TestClient): TestClient {
    this.clients.add(client);
    return client;
  }
}
