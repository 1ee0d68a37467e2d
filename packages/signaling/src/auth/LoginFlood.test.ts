import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { TestServer } from '../testing/TestServer.js';
import { DEFAULT_LOGIN_LIMITS } from './AuthService.js';
import { DEFAULT_SCRYPT_PARAMS } from './passwords.js';

// Every client here is a real WebSocket from its own loopback address (127.0.0.0/8 is all
// local on Linux), against the product's scrypt cost (32 MiB per hash) and its default
// limits, but for a smaller allowance per address (fewer slow hashes in the test).
const ADDRESS_FAILURES = 12;

interface Answer {
  ok: boolean;
  error?: { code: string; message: string; retryAfterMs?: number };
}

/** A raw socket from `localAddress` that sends one request at a time. */
async function socketFrom(url: string, localAddress: string) {
  const ws = new WebSocket(url, { localAddress });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 1;
  const waiting = new Map<number, (answer: Answer) => void>();
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Answer & { id?: number };
    if (typeof frame.id === 'number') waiting.get(frame.id)?.(frame);
  });
  return {
    request(body: object): Promise<Answer> {
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ id, ...body }));
      });
    },
    close: () => ws.close(),
  };
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(): Promise<TestServer> {
  server = await TestServer.start({ scrypt: DEFAULT_SCRYPT_PARAMS, loginLimits: { address: { maxFailures: ADDRESS_FAILURES } } });
  const first = await socketFrom(server.url, '127.0.0.9');
  expect((await first.request({ type: 'register', username: 'bob', password: 'password-bob' })).ok).toBe(true);
  first.close();
  return server;
}

async function timedLogin(url: string, address: string): Promise<{ answer: Answer; ms: number }> {
  const honest = await socketFrom(url, address);
  const started = performance.now();
  const answer = await honest.request({ type: 'login', username: 'bob', password: 'password-bob' });
  const ms = performance.now() - started;
  honest.close();
  return { answer, ms };
}

/** `sockets` sockets each sending `attempts` wrong logins back to back; the answers' codes. */
async function flood(url: string, addresses: string[], attempts: number, username: (socket: number, attempt: number) => string): Promise<Answer[]> {
  const sockets = await Promise.all(addresses.map((address) => socketFrom(url, address)));
  const answers: Answer[] = [];
  await Promise.all(
    sockets.map(async (socket, s) => {
      for (let i = 0; i < attempts; i++) answers.push(await socket.request({ type: 'login', username: username(s, i), password: 'not-the-password' }));
      socket.close();
    }),
  );
  return answers;
}

function codes(answers: Answer[]): Record<string, number> {
  const count: Record<string, number> = {};
  for (const a of answers) count[a.error?.code ?? 'ok'] = (count[a.error?.code ?? 'ok'] ?? 0) + 1;
  return count;
}

describe('login floods', () => {
  it('8 sockets of wrong passwords from one address are refused early (TOO_MANY_ATTEMPTS) while another address logs in', async () => {
    const s = await start();
    const quiet = await timedLogin(s.url, '127.0.0.2');
    expect(quiet.answer.ok).toBe(true);

    const addresses = Array.from({ length: 8 }, () => '127.0.0.3');
    const flooding = flood(s.url, addresses, 15, (socket, attempt) => `guess${socket}x${attempt}`);
    await new Promise((r) => setTimeout(r, 100));
    const underFlood = await timedLogin(s.url, '127.0.0.2');
    const answers = await flooding;
    console.log(`honest login: ${quiet.ms.toFixed(0)} ms alone, ${underFlood.ms.toFixed(0)} ms under the flood; flood answers ${JSON.stringify(codes(answers))}`);

    expect(underFlood.answer.ok).toBe(true);
    const count = codes(answers);
    // Only the address's allowance of failures was hashed; everything after it was refused without a hash.
    expect(count['UNAUTHENTICATED']).toBeLessThanOrEqual(ADDRESS_FAILURES);
    expect(count['TOO_MANY_ATTEMPTS']).toBeGreaterThanOrEqual(120 - ADDRESS_FAILURES);
    for (const a of answers.filter((x) => x.error?.code === 'TOO_MANY_ATTEMPTS')) expect(a.error!.retryAfterMs).toBeGreaterThan(0);
    expect(s.auth.hashQueue).toEqual({ active: 0, queued: 0 });
  });

  it('wrong passwords for one account from many addresses lock that account only', async () => {
    const s = await start();
    const victim = await socketFrom(s.url, '127.0.0.9');
    expect((await victim.request({ type: 'register', username: 'carol', password: 'password-carol' })).ok).toBe(true);
    victim.close();

    const addresses = Array.from({ length: 8 }, (_, i) => `127.0.1.${i + 1}`);
    const answers = await flood(s.url, addresses, 4, () => 'carol');
    const count = codes(answers);
    expect(count['UNAUTHENTICATED']).toBeLessThanOrEqual(DEFAULT_LOGIN_LIMITS.account.maxFailures);
    expect(count['TOO_MANY_ATTEMPTS']).toBeGreaterThanOrEqual(32 - DEFAULT_LOGIN_LIMITS.account.maxFailures);
    // Carol's right password is refused too until the back-off ends; Bob is not affected.
    const carol = await socketFrom(s.url, '127.0.0.2');
    expect(await carol.request({ type: 'login', username: 'carol', password: 'password-carol' })).toMatchObject({ ok: false, error: { code: 'TOO_MANY_ATTEMPTS' } });
    carol.close();
    expect((await timedLogin(s.url, '127.0.0.2')).answer.ok).toBe(true);
  });
});
