import { afterEach, describe, expect, it } from 'vitest';
import { SCTP, SCTP_STATE, WEBRTC_PPID, type Transport } from 'werift-sctp';
import { MediaError } from '../core/errors.js';
import { until } from '../testing/harness.js';
import type { DataChannel } from './DataChannel.js';
import { crc32c } from 'werift-sctp/lib/common/src/crc.js';
import { AbortChunk, CHUNK_BY_TYPE, InitChunk, ShutdownChunk } from 'werift-sctp/lib/sctp/src/chunk.js';
import { writeDataChannelOpen } from './dcep.js';
import { SctpAssociation, takeableChunks } from './SctpAssociation.js';

/*
 * Two associations wired to each other in memory (what DTLS application data carries
 * between two transports): DCEP, messages, closing by stream reset, hostile input.
 */

interface Pair {
  client: SctpAssociation;
  server: SctpAssociation;
  /** Packets the client sent to the server, in order. */
  toServer: Buffer[];
}

const open: SctpAssociation[] = [];
const stopAfter: SCTP[] = [];
afterEach(async () => {
  for (const association of open.splice(0)) association.close();
  for (const sctp of stopAfter.splice(0)) await sctp.stop();
});

/** Two associations whose packets reach each other on a later turn, as datagrams would; not started. */
function wiredPair(serverMaxMessageSize = 65536): Pair {
  const toServer: Buffer[] = [];
  const sides: { client?: SctpAssociation; server?: SctpAssociation } = {};
  const client = new SctpAssociation({ port: 5000, maxMessageSize: serverMaxMessageSize }, async (data) => {
    toServer.push(data);
    setImmediate(() => sides.server?.receive(data));
  });
  const server = new SctpAssociation({ port: 5000, maxMessageSize: 65536 }, async (data) => {
    setImmediate(() => sides.client?.receive(data));
  });
  Object.assign(sides, { client, server });
  open.push(client, server);
  return { client, server, toServer };
}

/** The DTLS client initiates here (in a transport the ICE-controlling side does). */
async function connectedPair(serverMaxMessageSize = 65536): Promise<Pair> {
  const pair = wiredPair(serverMaxMessageSize);
  pair.server.start('server', false);
  pair.client.start('client', true);
  await until(() => pair.client.getStats().state === 'connected' && pair.server.getStats().state === 'connected', 5000);
  return pair;
}

/** A bare werift-sctp client wired to our server association: it sends whatever a test asks, past any channel API. */
async function rawPeer(): Promise<{ peer: SCTP; server: SctpAssociation }> {
  const sides: { server?: SctpAssociation } = {};
  const link: Transport = {
    send: async (data) => void setImmediate(() => sides.server?.receive(data)),
    close: () => undefined,
  };
  const peer = SCTP.client(link, 5000);
  const server = new SctpAssociation({ port: 5000, maxMessageSize: 65536 }, async (data) => void setImmediate(() => link.onData?.(data)));
  sides.server = server;
  open.push(server);
  stopAfter.push(peer);
  server.start('server', false);
  await peer.start(5000);
  await until(() => peer.associationState === SCTP_STATE.ESTABLISHED && server.getStats().state === 'connected', 5000);
  return { peer, server };
}

/** `chunks` after the 12-byte common header `header` (ports, verification tag), with the CRC32c checksum filled in. */
function packetOf(header: Buffer, chunks: Buffer): Buffer {
  const packet = Buffer.concat([header, chunks]);
  packet.writeUInt32LE(0, 8);
  packet.writeUInt32LE(crc32c(packet), 8);
  return packet;
}

function padded(length: number): number {
  return length + ((4 - (length % 4)) % 4);
}

function messagesOf(channel: DataChannel): Array<string | Buffer> {
  const got: Array<string | Buffer> = [];
  channel.on('message', (data) => got.push(data));
  return got;
}

describe('SctpAssociation', () => {
  it('a channel opened by one side is announced to the other with its label, protocol and reliability, on a stream of the opener\'s DTLS parity', async () => {
    const { client, server } = await connectedPair();
    const announced: DataChannel[] = [];
    server.on('datachannel', (c) => announced.push(c));

    const mine = client.createDataChannel({ label: 'chat', protocol: 'v1', ordered: false, maxRetransmits: 2 });
    await until(() => mine.state === 'open' && announced.length === 1);

    const theirs = announced[0]!;
    expect(mine.id! % 2).toBe(0);
    expect(theirs.id).toBe(mine.id);
    expect(theirs).toMatchObject({ label: 'chat', protocol: 'v1', ordered: false, maxRetransmits: 2, maxPacketLifeTime: undefined, openedByPeer: true, state: 'open' });
    const fromServer = server.createDataChannel({ label: 'back', protocol: '', ordered: true });
    await until(() => fromServer.state === 'open');
    expect(fromServer.id! % 2).toBe(1);
  });

  it('channels made before the association is up open once it is', async () => {
    const { client, server } = wiredPair();
    const early = client.createDataChannel({ label: 'early', protocol: '', ordered: true });
    expect(early.id).toBeUndefined();

    server.start('server', false);
    client.start('client', true);
    await until(() => early.state === 'open');

    expect(early.id).toBe(0);
    expect(server.getStats().channels).toBe(1);
  });

  it('carries strings, binary and empty messages of both kinds with their PPIDs', async () => {
    const { client, server } = await connectedPair();
    const announced: DataChannel[] = [];
    server.on('datachannel', (c) => announced.push(c));
    const channel = client.createDataChannel({ label: 'm', protocol: '', ordered: true });
    await until(() => channel.state === 'open' && announced.length === 1);
    const got = messagesOf(announced[0]!);

    channel.send('héllo');
    channel.send(Buffer.from([1, 2, 3]));
    channel.send('');
    channel.send(Buffer.alloc(0));
    channel.send(Buffer.alloc(5000, 7)); // several DATA chunks
    await until(() => got.length === 5);

    expect(got[0]).toBe('héllo');
    expect(got[1]).toEqual(Buffer.from([1, 2, 3]));
    expect(got[2]).toBe('');
    expect(Buffer.isBuffer(got[3]) && got[3].length).toBe(0);
    expect(got[4]).toEqual(Buffer.alloc(5000, 7));
  });

  it('a message larger than the peer\'s max-message-size is INVALID_ARGUMENT and sends nothing', async () => {
    const { client, server } = await connectedPair(1000);
    const announced: DataChannel[] = [];
    server.on('datachannel', (c) => announced.push(c));
    const channel = client.createDataChannel({ label: 'm', protocol: '', ordered: true });
    await until(() => channel.state === 'open' && announced.length === 1);
    const got = messagesOf(announced[0]!);

    let error: unknown;
    try {
      channel.send(Buffer.alloc(1001));
    } catch (e) {
      error = e;
    }
    channel.send(Buffer.alloc(1000));
    await until(() => got.length === 1);

    expect(error).toBeInstanceOf(MediaError);
    expect((error as MediaError).code).toBe('INVALID_ARGUMENT');
    expect((got[0] as Buffer).length).toBe(1000);
  });

  it('close() resets the stream: the channel closes on both sides, and its id is not taken again at once', async () => {
    const { client, server } = await connectedPair();
    const announced: DataChannel[] = [];
    server.on('datachannel', (c) => announced.push(c));
    const channel = client.createDataChannel({ label: 'c', protocol: '', ordered: true });
    await until(() => channel.state === 'open' && announced.length === 1);
    const states: string[] = [];
    channel.on('closing', () => states.push('closing'));
    channel.on('close', () => states.push('closed'));

    channel.close();
    await until(() => channel.state === 'closed' && announced[0]!.state === 'closed');
    const next = client.createDataChannel({ label: 'd', protocol: '', ordered: true });
    await until(() => next.state === 'open');

    expect(states).toEqual(['closing', 'closed']);
    expect(next.id).not.toBe(channel.id);
    expect(() => channel.send('late')).toThrow(MediaError);
    expect(client.getStats().channels).toBe(1);
  });

  it('hostile DCEP and messages are dropped and counted, and the association carries on', async () => {
    const { peer, server } = await rawPeer();
    const announced: DataChannel[] = [];
    server.on('datachannel', (c) => announced.push(c));
    await peer.send(2, WEBRTC_PPID.DCEP, writeDataChannelOpen('ok', '', { ordered: true }));
    await until(() => announced.length === 1);
    const got = messagesOf(announced[0]!);

    await peer.send(10, WEBRTC_PPID.DCEP, writeDataChannelOpen('label', 'protocol', { ordered: true }).subarray(0, 14)); // truncated
    await peer.send(12, WEBRTC_PPID.DCEP, Buffer.from([0x03, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])); // lengths beyond it
    await peer.send(14, WEBRTC_PPID.DCEP, Buffer.from([0x09])); // an unknown message
    await peer.send(16, WEBRTC_PPID.DCEP, Buffer.from([0x02])); // an ACK for no channel
    await peer.send(2, WEBRTC_PPID.DCEP, writeDataChannelOpen('again', '', { ordered: true })); // a stream in use
    await peer.send(18, WEBRTC_PPID.STRING, Buffer.from('no channel'));
    await peer.send(2, 52, Buffer.from('a deprecated PPID'));
    await peer.send(2, WEBRTC_PPID.STRING, Buffer.from('after'));
    await until(() => got.length === 1);

    expect(got).toEqual(['after']);
    expect(announced).toHaveLength(1);
    expect(server.getStats()).toMatchObject({ state: 'connected', droppedDcep: 5, droppedMessages: 2 });
  });

  it('garbage and packets werift-sctp would throw on never reach it', async () => {
    const { client, server, toServer } = await connectedPair();
    const valid = toServer[toServer.length - 1]!;
    const badChecksum = Buffer.from(valid);
    badChecksum[8]! ^= 0xff;

    expect(takeableChunks(valid)).toBeDefined();
    expect(takeableChunks(badChecksum)).toBeUndefined();
    server.receive(Buffer.alloc(0));
    server.receive(Buffer.from([1, 2, 3]));
    server.receive(badChecksum);
    for (let i = 0; i < 200; i++) server.receive(Buffer.from(Array.from({ length: 12 + Math.floor(Math.random() * 60) }, () => Math.floor(Math.random() * 256))));
    const channel = client.createDataChannel({ label: 'still', protocol: '', ordered: true });
    await until(() => channel.state === 'open');

    expect(server.getStats().droppedSctp).toBeGreaterThanOrEqual(203);
    expect(server.getStats().state).toBe('connected');
  });

  it('a chunk or a parameter of length 0 is dropped before werift-sctp, whose parser would loop on it for ever', async () => {
    const { client, server, toServer } = await connectedPair();
    const header = toServer[toServer.length - 1]!.subarray(0, 12); // ports and the server's verification tag
    // A HEARTBEAT whose one parameter says length 0, and a chunk that says length 0.
    const zeroParameter = packetOf(header, Buffer.from('04000008' + '00010000', 'hex'));
    const zeroChunk = packetOf(header, Buffer.from('0400000000000000', 'hex'));

    expect(takeableChunks(zeroParameter)).toBeUndefined();
    expect(takeableChunks(zeroChunk)).toBeUndefined();
    server.receive(zeroParameter);
    server.receive(zeroChunk);
    const channel = client.createDataChannel({ label: 'after', protocol: '', ordered: true });
    await until(() => channel.state === 'open');
    expect(server.getStats().droppedSctp).toBe(2);
  });

  it('random chunks of every kind but INIT and ABORT, with valid checksums and the right tag, never make werift-sctp throw or hang', async () => {
    const { server, toServer } = await connectedPair();
    const header = toServer[toServer.length - 1]!.subarray(0, 12);
    const types = Object.keys(CHUNK_BY_TYPE).map(Number).filter((t) => t !== InitChunk.type && t !== AbortChunk.type);
    let seed = 1;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return Math.floor((seed / 2 ** 32) * n);
    };

    for (let i = 0; i < 3000; i++) {
      const length = random(120);
      const chunk = Buffer.alloc(padded(4 + length));
      chunk[0] = types[random(types.length)]!;
      chunk[1] = random(256);
      // Now and then a length that lies.
      chunk.writeUInt16BE(random(8) === 0 ? random(200) : 4 + length, 2);
      for (let at = 4; at < 4 + length; at++) chunk[at] = random(256);
      server.receive(packetOf(header, chunk));
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Vitest fails the file on an unhandled rejection; a random SHUTDOWN may have begun closing the association.
    expect(['connected', 'closing', 'closed']).toContain(server.getStats().state);
    expect(server.getStats().droppedSctp).toBeGreaterThan(0);
  });

  it('a peer\'s SHUTDOWN is taken once: werift-sctp would throw on a second one while it answers the first', async () => {
    const { peer, server } = await rawPeer();

    // Two packets back to back: the second arrives while werift-sctp still sends its SHUTDOWN-ACK.
    await Promise.all([peer.sendChunk(new ShutdownChunk(0, undefined)), peer.sendChunk(new ShutdownChunk(0, undefined))]);
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(server.getStats().droppedSctp).toBe(1);
  });

  it('close() ends every channel and the association; it is idempotent', async () => {
    const { client, server } = await connectedPair();
    const channel = client.createDataChannel({ label: 'x', protocol: '', ordered: true });
    await until(() => channel.state === 'open');
    let closes = 0;
    client.on('close', () => closes++);

    client.close();
    client.close();

    expect(channel.state).toBe('closed');
    expect(closes).toBe(1);
    expect(() => client.createDataChannel({ label: 'y', protocol: '', ordered: true })).toThrow(MediaError);
    // The peer got the ABORT.
    await until(() => server.getStats().state === 'closed');
  });
});
