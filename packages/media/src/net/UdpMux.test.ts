import { createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../testing/harness.js';
import { parseStun, UdpMux, type MuxAddress } from './UdpMux.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

// This file's UDP ports: 61000-61099.
const HOST = '127.0.0.1';

const open: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of open.splice(0).reverse()) await fn();
});

async function client(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  open.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

async function mux(port: number | [number, number]): Promise<UdpMux> {
  const m = await engine.sockets.acquire(HOST, port);
  open.push(() => m.release());
  return m;
}

function send(socket: Socket, data: Buffer, port: number): void {
  socket.send(data, port, HOST);
}

/** A STUN message (RFC 5389): attributes as [type, value], then MESSAGE-INTEGRITY with `password` if given. */
function stun(type: number, attributes: Array<[number, Buffer]>, password?: string, transactionId: Uint8Array = randomBytes(12)): Buffer {
  const parts: Buffer[] = [];
  for (const [t, value] of attributes) {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(t, 0);
    head.writeUInt16BE(value.length, 2);
    parts.push(head, value, Buffer.alloc((4 - (value.length % 4)) % 4));
  }
  let body = Buffer.concat(parts);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(0x2112a442, 4);
  header.set(transactionId, 8);
  if (password !== undefined) {
    header.writeUInt16BE(body.length + 24, 2);
    const mac = createHmac('sha1', password).update(header).update(body).digest();
    const head = Buffer.from([0x00, 0x08, 0x00, 20]);
    body = Buffer.concat([body, head, mac]);
  }
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function bindingRequest(username: string, password?: string): Buffer {
  return stun(0x0001, [[0x0006, Buffer.from(username)]], password);
}

interface Received {
  data: Buffer;
  from: MuxAddress;
}

describe('UdpMux demultiplexing', () => {
  it('routes a Binding request by the local ufrag of USERNAME, then everything from that 5-tuple to the same agent', async () => {
    const m = await mux(61000);
    const got = { a: [] as Received[], b: [] as Received[] };
    const a = m.bind((data, from) => got.a.push({ data, from }));
    const b = m.bind((data, from) => got.b.push({ data, from }));
    a.addUfrag('ufragAAA1', () => 'password-of-a-123456789');
    b.addUfrag('ufragBBB1', () => 'password-of-b-123456789');
    const peerA = await client();
    const peerB = await client();

    send(peerA, bindingRequest('ufragAAA1:remote', 'password-of-a-123456789'), 61000);
    send(peerB, bindingRequest('ufragBBB1:other', 'password-of-b-123456789'), 61000);
    await until(() => got.a.length === 1 && got.b.length === 1);
    expect(got.a[0]!.from).toEqual([HOST, peerA.address().port]);
    expect(got.b[0]!.from).toEqual([HOST, peerB.address().port]);

    // DTLS- and RTP-looking datagrams now follow their 5-tuple.
    send(peerA, Buffer.from([22, 254, 253, 1, 2, 3]), 61000);
    send(peerB, Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2]), 61000);
    await until(() => got.a.length === 2 && got.b.length === 2);
    expect(got.a[1]!.data[0]).toBe(22);
    expect(got.b[1]!.data[0]).toBe(0x80);
    expect(m.getStats()).toMatchObject({ bindings: 2, tuples: 2, droppedUnknown: 0, droppedMalformed: 0 });
  });

  it('drops (and counts) datagrams from an unknown 5-tuple, unknown ufrags and requests with a wrong or missing MESSAGE-INTEGRITY', async () => {
    const m = await mux(61001);
    const got: Received[] = [];
    const a = m.bind((data, from) => got.push({ data, from }));
    a.addUfrag('ufragAAA2', () => 'password-of-a-123456789');
    const stranger = await client();
    send(stranger, Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2]), 61001); // RTP from nobody
    send(stranger, bindingRequest('nobody:remote', 'whatever'), 61001); // unknown ufrag
    send(stranger, bindingRequest('ufragAAA2:remote', 'not-the-password'), 61001); // forged
    send(stranger, bindingRequest('ufragAAA2:remote'), 61001); // unsigned
    send(stranger, Buffer.from([0, 1, 0, 0, 1, 2, 3, 4]), 61001); // STUN range, malformed
    send(stranger, Buffer.alloc(0), 61001); // empty
    await until(() => m.getStats().datagrams === 6);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toHaveLength(0);
    expect(m.getStats()).toMatchObject({ droppedUnknown: 2, droppedUnauthenticated: 2, droppedMalformed: 2, tuples: 0 });
    // The forged requests taught the mux nothing: RTP from the same 5-tuple is still dropped.
    send(stranger, Buffer.from([0x80, 96, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]), 61001);
    await until(() => m.getStats().droppedUnknown === 3);
  });

  it('routes a STUN response to the agent whose request it answers (by transaction id), even from an unknown 5-tuple', async () => {
    const m = await mux(61002);
    const got = { a: [] as Received[], b: [] as Received[] };
    const a = m.bind((data, from) => got.a.push({ data, from }));
    m.bind((data, from) => got.b.push({ data, from }));
    const server = await client();
    const requests: Buffer[] = [];
    server.on('message', (data, rinfo) => {
      requests.push(data);
      if (requests.length > 1) return; // the second request is answered from elsewhere below
      // A success response with the request's transaction id.
      const response = stun(0x0101, [], undefined, data.subarray(8, 20));
      server.send(response, rinfo.port, rinfo.address);
    });
    a.send(stun(0x0001, []), [HOST, server.address().port]);
    await until(() => got.a.length === 1);
    expect(got.a[0]!.data.subarray(8, 20)).toEqual(requests[0]!.subarray(8, 20));
    expect(got.b).toHaveLength(0);
    // A response teaches the mux nothing by itself (anyone who got a check can answer):
    // DTLS from the server's address is still a stranger's...
    server.send(Buffer.from([22, 254, 253, 0]), 61002, HOST);
    await until(() => m.getStats().droppedUnknown === 1);
    expect(got.a).toHaveLength(1);
    // ... until the agent, having verified the answer, claims the 5-tuple (an ICE-lite
    // peer sends no checks of its own, then DTLS from there).
    a.learn(HOST, server.address().port);
    server.send(Buffer.from([22, 254, 253, 0]), 61002, HOST);
    await until(() => got.a.length === 2);
    expect(got.a[1]!.data[0]).toBe(22);
    // A response from somewhere else than the request went is delivered too (by id).
    const elsewhere = await client();
    a.send(stun(0x0001, []), [HOST, server.address().port]);
    await until(() => requests.length === 2);
    elsewhere.send(stun(0x0101, [], undefined, requests[1]!.subarray(8, 20)), 61002, HOST);
    await until(() => got.a.length === 3);
    expect(got.b).toHaveLength(0);
  });

  it('moves a 5-tuple to the agent a later authenticated request names, and forgets an agent that closes', async () => {
    const m = await mux(61003);
    const got = { a: [] as Received[], b: [] as Received[] };
    const a = m.bind((data, from) => got.a.push({ data, from }));
    const b = m.bind((data, from) => got.b.push({ data, from }));
    a.addUfrag('ufragAAA4', () => 'password-of-a-123456789');
    b.addUfrag('ufragBBB4', () => 'password-of-b-123456789');
    const peer = await client();
    send(peer, bindingRequest('ufragAAA4:r', 'password-of-a-123456789'), 61003);
    await until(() => got.a.length === 1);
    send(peer, bindingRequest('ufragBBB4:r', 'password-of-b-123456789'), 61003);
    send(peer, Buffer.from([23, 254, 253]), 61003);
    await until(() => got.b.length === 2);
    expect(got.a).toHaveLength(1);
    expect(a.remoteTuples).toEqual([]);
    expect(b.remoteTuples).toEqual([[HOST, peer.address().port]]);

    b.close();
    send(peer, Buffer.from([23, 254, 253]), 61003);
    send(peer, bindingRequest('ufragBBB4:r', 'password-of-b-123456789'), 61003);
    await until(() => m.getStats().droppedUnknown === 2);
    expect(got.b).toHaveLength(2);
    expect(m.getStats()).toMatchObject({ bindings: 1, tuples: 0 });
  });

  it('an agent registers several ufrags (ICE restart) and both route to it; two agents cannot share one', async () => {
    const m = await mux(61004);
    const got: Received[] = [];
    const a = m.bind((data, from) => got.push({ data, from }));
    const b = m.bind(() => undefined);
    a.addUfrag('ufragOLD5', () => 'password-old-123456789');
    a.addUfrag('ufragNEW5', () => 'password-new-123456789');
    expect(() => b.addUfrag('ufragNEW5', () => 'x')).toThrow(/already registered/);
    const p1 = await client();
    const p2 = await client();
    send(p1, bindingRequest('ufragOLD5:r', 'password-old-123456789'), 61004);
    send(p2, bindingRequest('ufragNEW5:r2', 'password-new-123456789'), 61004);
    await until(() => got.length === 2);
    expect(a.remoteTuples).toHaveLength(2);
  });

  it('a receiver that throws does not stop the mux or disturb another agent', async () => {
    const m = await mux(61005);
    const a = m.bind(() => {
      throw new Error('bad receiver');
    });
    let bGot = 0;
    const b = m.bind(() => bGot++);
    a.addUfrag('ufragAAA6', () => 'password-of-a-123456789');
    b.addUfrag('ufragBBB6', () => 'password-of-b-123456789');
    const p1 = await client();
    const p2 = await client();
    send(p1, bindingRequest('ufragAAA6:r', 'password-of-a-123456789'), 61005);
    send(p2, bindingRequest('ufragBBB6:r', 'password-of-b-123456789'), 61005);
    await until(() => bGot === 1);
    expect(m.isClosed).toBe(false);
  });
});

describe('STUN parsing of hostile input', () => {
  it('accepts a well-formed request and reads USERNAME and the MESSAGE-INTEGRITY offset', () => {
    const message = bindingRequest('abcd:efgh', 'pw');
    expect(parseStun(message)).toEqual({ cls: 0, method: 1, username: 'abcd:efgh', integrityAt: 36 });
    expect(parseStun(stun(0x0111, []))).toMatchObject({ cls: 3, method: 1 });
    expect(parseStun(stun(0x0011, []))).toMatchObject({ cls: 1, method: 1 });
  });

  it('rejects truncated attributes, bad lengths, a wrong cookie and trailing bytes', () => {
    const good = bindingRequest('abcd:efgh', 'pw');
    // Attribute length past the end.
    const long = Buffer.from(good);
    long.writeUInt16BE(200, 22);
    expect(parseStun(long)).toBeUndefined();
    // Header length not the datagram's, or not a multiple of 4.
    const header = Buffer.from(good);
    header.writeUInt16BE(good.length - 20 + 4, 2);
    expect(parseStun(header)).toBeUndefined();
    header.writeUInt16BE(good.length - 20 - 1, 2);
    expect(parseStun(header)).toBeUndefined();
    // Cut in the middle of an attribute (the header length adjusted to match).
    const cut = Buffer.from(good.subarray(0, 26));
    cut.writeUInt16BE(4, 2);
    expect(parseStun(cut)).toBeUndefined();
    // An attribute header with only 2 bytes.
    const half = Buffer.concat([good.subarray(0, 20), Buffer.from([0, 6, 0, 0])]);
    half.writeUInt16BE(4, 2);
    expect(parseStun(half)).toBeUndefined(); // an empty USERNAME
    const odd = Buffer.concat([good.subarray(0, 20), Buffer.from([0, 6])]);
    expect(parseStun(odd)).toBeUndefined();
    // MESSAGE-INTEGRITY of the wrong size.
    const shortMac = stun(0x0001, [[0x0008, Buffer.alloc(12)]]);
    expect(parseStun(shortMac)).toBeUndefined();
    const cookie = Buffer.from(good);
    cookie[4] = 0;
    expect(parseStun(cookie)).toBeUndefined();
    expect(parseStun(Buffer.concat([good, Buffer.alloc(4)]))).toBeUndefined();
    expect(parseStun(Buffer.alloc(19))).toBeUndefined();
  });

  it('never throws on random bytes or on random attribute soup behind a valid header', () => {
    let seed = 11;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 5000; i++) {
      const body = Buffer.alloc(Math.floor(random() * 200));
      for (let j = 0; j < body.length; j++) body[j] = Math.floor(random() * 256);
      expect(() => parseStun(body)).not.toThrow();
      const header = Buffer.alloc(20);
      header.writeUInt16BE(Math.floor(random() * 4) === 0 ? 0x0001 : Math.floor(random() * 0x3fff), 0);
      header.writeUInt16BE(random() < 0.5 ? body.length & 0xfffc : Math.floor(random() * 65536), 2);
      header.writeUInt32BE(0x2112a442, 4);
      const message = Buffer.concat([header, body.subarray(0, random() < 0.5 ? body.length & 0xfffc : body.length)]);
      expect(() => parseStun(message)).not.toThrow();
    }
  });
});

describe('UdpMux lifecycle', () => {
  it('is shared and reference-counted: the socket closes when the last user releases it, and opens anew after', async () => {
    const first = await engine.sockets.acquire(HOST, 61010);
    const second = await engine.sockets.acquire(HOST, 61010);
    expect(second).toBe(first);
    expect(first.users).toBe(2);
    first.release();
    expect(engine.sockets.find(HOST, 61010)).toBe(first);
    expect(first.isClosed).toBe(false);
    second.release();
    expect(first.isClosed).toBe(true);
    expect(engine.sockets.find(HOST, 61010)).toBeUndefined();
    first.release(); // idempotent at zero
    const again = await engine.sockets.acquire(HOST, 61010);
    expect(again).not.toBe(first);
    again.release();
  });

  it('concurrent first users share one bind', async () => {
    const [a, b, c] = await Promise.all([engine.sockets.acquire(HOST, 61011), engine.sockets.acquire(HOST, 61011), engine.sockets.acquire(HOST, 61011)]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(a.users).toBe(3);
    for (const m of [a, b, c]) m.release();
    expect(a.isClosed).toBe(true);
  });

  it('a configured port already in use fails with an error naming the port and the setting', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(61012, HOST, resolve));
    open.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
    await expect(engine.sockets.acquire(HOST, 61012, 'media.udpPort')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/UDP port 61012 on 127\.0\.0\.1 is already in use.*media\.udpPort/),
    });
    expect(engine.sockets.find(HOST, 61012)).toBeUndefined();
  });

  it('the default (a range) takes the first free port of the range, and every user of the range shares it', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(61020, HOST, resolve));
    open.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
    const m = await mux([61020, 61029]);
    expect(m.port).toBe(61021);
    const same = await mux([61020, 61029]);
    expect(same).toBe(m);
  });

  it('closing the mux closes its bindings', async () => {
    const m = await engine.sockets.acquire(HOST, 61013);
    const binding = m.bind(() => undefined);
    binding.addUfrag('ufragCLOSE', () => 'p');
    m.release();
    expect(binding.isClosed).toBe(true);
    expect(() => m.bind(() => undefined)).toThrow(/closed/);
  });

  it('claimUfrag hands out ufrags no other agent on the engine\'s sockets holds', () => {
    const taken = engine.sockets.claimUfrag('sharedUfrag1');
    expect(taken).toBe('sharedUfrag1');
    const other = engine.sockets.claimUfrag('sharedUfrag1');
    expect(other).not.toBe('sharedUfrag1');
    expect(engine.sockets.claimUfrag('abcd')).toMatch(/^[0-9a-f]{12}$/); // werift's 4 hex digits are too few
    engine.sockets.releaseUfrag(taken);
    expect(engine.sockets.claimUfrag('sharedUfrag1')).toBe('sharedUfrag1');
    engine.sockets.releaseUfrag('sharedUfrag1');
    engine.sockets.releaseUfrag(other);
  });
});
