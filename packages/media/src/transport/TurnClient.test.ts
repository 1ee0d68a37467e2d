import { createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Coturn, skipTurnTests } from '../../../../test/e2e/coturn.js';
import { MediaError } from '../core/errors.js';
import { readStun, stunAttributes, writeStun, xorMappedAddress } from './stun.js';
import { TurnClient, turnServersOf, type TurnAddress } from './TurnClient.js';

/** Relay ports of its own: turn.test.ts's coturn may run at the same time on the default range. */
const RELAY_PORTS = [53400, 53499] as const;

function restCredentials(secret: string): { username: string; password: string } {
  const username = `${Math.floor(Date.now() / 1000) + 3600}:roundtable`;
  return { username, password: createHmac('sha1', secret).update(username).digest('base64') };
}

async function udpSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

function addressOf(socket: Socket): TurnAddress {
  const a = socket.address();
  return [a.address, a.port];
}

function nextMessage(socket: Socket): Promise<{ data: Buffer; from: TurnAddress }> {
  return new Promise((resolve) => socket.once('message', (data, rinfo) => resolve({ data, from: [rinfo.address, rinfo.port] })));
}

describe('turnServersOf', () => {
  it('takes UDP turn: URLs with credentials, skips turns:, TCP and servers without credentials', () => {
    expect(
      turnServersOf([
        { urls: ['turn:10.0.0.1:3479', 'turn:[::1]', 'turn:relay.example?transport=udp', 'turn:10.0.0.2?transport=tcp', 'turns:10.0.0.3', 'stun:10.0.0.4'], username: 'u', credential: 'p' },
        { urls: 'turn:10.0.0.5' },
      ]),
    ).toEqual([
      { host: '10.0.0.1', port: 3479, username: 'u', password: 'p' },
      { host: '::1', port: 3478, username: 'u', password: 'p' },
      { host: 'relay.example', port: 3478, username: 'u', password: 'p' },
    ]);
  });
});

describe('TurnClient without a server', () => {
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });

  it('needs an IP address', () => {
    expect(() => new TurnClient({ ip: 'turn.example', port: 3478, username: 'u', password: 'p' }, () => undefined, { data: () => undefined, failed: () => undefined })).toThrow(MediaError);
  });

  it('gives up on a server that does not answer, with the server named', async () => {
    const silent = await udpSocket();
    sockets.push(silent);
    const sent: Buffer[] = [];
    const client = new TurnClient({ ip: '127.0.0.1', port: addressOf(silent)[1], username: 'u', password: 'p' }, (data) => sent.push(data), { data: () => undefined, failed: () => undefined }, { timeoutMs: 400, retransmitMs: 50 });
    await expect(client.allocate()).rejects.toMatchObject({ code: 'TURN_FAILED', message: expect.stringMatching(/did not answer within 400 ms/) });
    // Retransmitted with backoff (50, 100, 200 ms) before giving up.
    expect(sent.length).toBeGreaterThanOrEqual(3);
    client.close();
  });

  it('takes nothing from other senders and survives hostile datagrams from the server address', () => {
    const server: TurnAddress = ['127.0.0.1', 3478];
    const data: Buffer[] = [];
    const client = new TurnClient({ ip: server[0], port: server[1], username: 'u', password: 'p' }, () => undefined, { data: (payload) => data.push(payload), failed: () => undefined });
    expect(client.receive(randomBytes(40), ['127.0.0.2', 3478])).toBe(false);
    for (let i = 0; i < 2000; i++) {
      const junk = randomBytes(i % 64);
      // Some look like ChannelData or STUN headers.
      if (i % 3 === 0 && junk.length >= 4) junk[0] = 0x40;
      if (i % 5 === 0 && junk.length >= 20) junk.writeUInt32BE(0x2112a442, 4);
      expect(client.receive(junk, server)).toBe(true);
    }
    // ChannelData on a channel never bound is not delivered.
    expect(client.receive(Buffer.from([0x40, 0x00, 0x00, 0x02, 1, 2]), server)).toBe(true);
    expect(data).toHaveLength(0);
    client.close();
  });
});

describe('TurnClient against a scripted server', () => {
  const SERVER: TurnAddress = ['127.0.0.1', 3478];
  const key = createHash('md5').update('u:realm:p').digest();

  /** Answers Allocate (after one 401) with a lifetime of `lifetime` s; Refresh requests are counted and refused with 437. */
  function scripted(lifetime: number): { client: TurnClient; refreshes: number[]; failures: string[] } {
    const refreshes: number[] = [];
    const failures: string[] = [];
    const client: TurnClient = new TurnClient({ ip: SERVER[0], port: SERVER[1], username: 'u', password: 'p' }, (data) => {
      const message = readStun(data)!;
      const attributes = stunAttributes(data)!;
      const method = (message.type & 0x000f) | ((message.type & 0x00e0) >> 1);
      let response: Buffer;
      if (!attributes.has(0x0015)) {
        response = writeStun(0x0113, message.transactionId, [[0x0009, Buffer.from([0, 0, 4, 1])], [0x0014, Buffer.from('realm')], [0x0015, Buffer.from('nonce')]], undefined);
      } else if (method === 0x003) {
        const lifetimeValue = Buffer.alloc(4);
        lifetimeValue.writeUInt32BE(lifetime);
        response = writeStun(0x0103, message.transactionId, [[0x0016, xorMappedAddress('127.0.0.1', 50000, message.transactionId)], [0x000d, lifetimeValue]], key);
      } else {
        refreshes.push(Date.now());
        response = writeStun(0x0114, message.transactionId, [[0x0009, Buffer.from([0, 0, 4, 37])]], undefined);
      }
      queueMicrotask(() => client.receive(response, SERVER));
    }, { data: () => undefined, failed: (reason) => failures.push(reason) });
    return { client, refreshes, failures };
  }

  afterEach(() => {
    vi.useRealTimers();
  });

  it('refreshes the allocation a minute before it expires and reports a refused refresh', async () => {
    vi.useFakeTimers();
    const { client, refreshes, failures } = scripted(600);
    const start = Date.now();
    await expect(client.allocate()).resolves.toEqual(['127.0.0.1', 50000]);
    await vi.advanceTimersByTimeAsync(539_000);
    expect(refreshes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(refreshes).toEqual([start + 540_000]);
    expect(failures).toEqual(['the TURN allocation could not be refreshed: the TURN server answered 437']);
    client.close();
  });

  it('refreshes a short allocation halfway', async () => {
    vi.useFakeTimers();
    const { client, refreshes } = scripted(60);
    const start = Date.now();
    await client.allocate();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(refreshes).toEqual([start + 30_000]);
    client.close();
  });
});

describe.skipIf(skipTurnTests('TurnClient'))('TurnClient against coturn', () => {
  let coturn: Coturn;
  const sockets: Socket[] = [];
  const clients: TurnClient[] = [];

  beforeAll(async () => {
    coturn = await Coturn.start({ relayPorts: RELAY_PORTS });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const s of sockets.splice(0)) s.close();
  });
  afterAll(async () => {
    await coturn?.close();
  });

  async function connected(credentials = restCredentials(coturn.secret)): Promise<{ client: TurnClient; socket: Socket; received: Array<{ payload: Buffer; from: TurnAddress }>; failures: string[]; sent: Buffer[] }> {
    const socket = await udpSocket();
    sockets.push(socket);
    const received: Array<{ payload: Buffer; from: TurnAddress }> = [];
    const failures: string[] = [];
    const sent: Buffer[] = [];
    const send = (data: Buffer, to: TurnAddress): void => {
      sent.push(data);
      socket.send(data, to[1], to[0]);
    };
    const client = new TurnClient({ ip: '127.0.0.1', port: coturn.port, ...credentials }, send, {
      data: (payload, from) => received.push({ payload: Buffer.from(payload), from }),
      failed: (reason) => failures.push(reason),
    });
    clients.push(client);
    socket.on('message', (data, rinfo) => client.receive(data, [rinfo.address, rinfo.port]));
    return { client, socket, received, failures, sent };
  }

  async function until(condition: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 20));
    if (!condition()) throw new Error(`timed out waiting for ${what}`);
  }

  it('allocates a relayed address, relays both ways, and moves to a channel', async () => {
    const { client, socket, received, failures, sent } = await connected();
    const relayed = await client.allocate();
    expect(relayed[0]).toBe('127.0.0.1');
    expect(relayed[1]).toBeGreaterThanOrEqual(RELAY_PORTS[0]);
    expect(relayed[1]).toBeLessThanOrEqual(RELAY_PORTS[1]);
    expect(client.mapped).toEqual(addressOf(socket));

    const peer = await udpSocket();
    sockets.push(peer);
    // Without a permission the server drops what the peer sends.
    peer.send(Buffer.from('dropped'), relayed[1], relayed[0]);
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toHaveLength(0);

    await client.permit('127.0.0.1');
    peer.send(Buffer.from('hello through the relay'), relayed[1], relayed[0]);
    await until(() => received.length === 1, 'the Data indication');
    expect(received[0]!.payload.toString()).toBe('hello through the relay');
    expect(received[0]!.from).toEqual(addressOf(peer));

    // The first send goes as a Send indication (a STUN message) and asks for a channel.
    const isChannelData = (data: Buffer): boolean => data[0]! >= 0x40 && data[0]! <= 0x4f;
    const first = nextMessage(peer);
    client.sendTo(Buffer.from('to the peer'), addressOf(peer));
    const got = await first;
    expect(got.data.toString()).toBe('to the peer');
    expect(got.from).toEqual(relayed);
    expect(isChannelData(sent.at(-1)!)).toBe(false);

    // Once the server confirmed the channel, data goes as ChannelData both ways.
    await until(() => {
      client.sendTo(Buffer.from('on the channel'), addressOf(peer));
      return isChannelData(sent.at(-1)!);
    }, 'the channel binding');
    const second = nextMessage(peer);
    client.sendTo(Buffer.from('on the channel'), addressOf(peer));
    expect((await second).data.toString()).toBe('on the channel');
    peer.send(Buffer.from('back on the channel'), relayed[1], relayed[0]);
    await until(() => received.length === 2, 'ChannelData from the peer');
    expect(received[1]!.payload.toString()).toBe('back on the channel');
    expect(received[1]!.from).toEqual(addressOf(peer));
    expect(failures).toEqual([]);
  });

  it('refuses wrong credentials with a clear error', async () => {
    const { client } = await connected({ username: restCredentials(coturn.secret).username, password: 'not the password' });
    await expect(client.allocate()).rejects.toMatchObject({ code: 'TURN_FAILED', message: 'the TURN server refused the credentials' });
  });

  it('gives the allocation back on close', async () => {
    const { client } = await connected();
    const relayed = await client.allocate();
    client.close();
    // The relay port is free again once the server took the zero-lifetime Refresh.
    let bound = false;
    for (let i = 0; i < 50 && !bound; i++) {
      const probe = createSocket('udp4');
      bound = await new Promise<boolean>((resolve) => {
        probe.once('error', () => resolve(false));
        probe.bind(relayed[1], '127.0.0.1', () => resolve(true));
      });
      if (bound) sockets.push(probe);
      else await new Promise((r) => setTimeout(r, 50));
    }
    expect(bound).toBe(true);
  });
});
