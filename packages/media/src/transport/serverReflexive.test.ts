import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StunServer } from '../net/StunServer.js';
import { UdpMux } from '../net/UdpMux.js';
import { firstStunServer, serverReflexiveAddress } from './serverReflexive.js';
import { Engine } from '../core/Engine.js';

/** This file's media engine. */
const engine = new Engine();

// This file's UDP ports: 58620-58629.
let mux: UdpMux;
const stun = new StunServer();
let stunPort = 0;

beforeAll(async () => {
  mux = await engine.sockets.acquire('127.0.0.1', [58620, 58629], 'test', 'typescript');
  stunPort = (await stun.listen()).port;
});
afterAll(() => {
  mux.release();
  stun.close();
});

describe('server-reflexive address of the shared port', () => {
  it('the first stun: URL names the server (port 3478 by default, IPv6 in brackets); turn: and stuns: are not asked', () => {
    expect(firstStunServer([{ urls: ['turn:10.0.0.1', 'stun:stun.example.org'] }])).toEqual({ host: 'stun.example.org', port: 3478 });
    expect(firstStunServer([{ urls: 'stuns:a.example' }, { urls: 'stun:[::1]:5349' }])).toEqual({ host: '::1', port: 5349 });
    expect(firstStunServer([{ urls: 'stun:127.0.0.1:70000' }])).toBeUndefined();
    expect(firstStunServer([])).toBeUndefined();
  });

  it('asks the server from the shared socket: the server sees the shared port', async () => {
    const before = stun.requests;
    expect(await serverReflexiveAddress(mux, { host: '127.0.0.1', port: stunPort })).toEqual(['127.0.0.1', mux.port]);
    expect(stun.requests).toBe(before + 1);
    // The query's binding is gone: nothing of it stays on the mux.
    expect(mux.getStats().bindings).toBe(0);
  });

  it('a server that does not answer: undefined at the deadline, after retransmissions', async () => {
    const silent = createSocket('udp4');
    let requests = 0;
    silent.on('message', () => requests++);
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const address = await serverReflexiveAddress(mux, { host: '127.0.0.1', port: silent.address().port }, { timeoutMs: 800, retransmitMs: 100 });
      expect(address).toBeUndefined();
      expect(requests).toBeGreaterThanOrEqual(2);
      expect(mux.getStats().bindings).toBe(0);
    } finally {
      silent.close();
    }
  });

  it('a host name that does not resolve, or of the other address family: undefined, nothing sent', async () => {
    expect(await serverReflexiveAddress(mux, { host: 'no-such-host.invalid', port: 3478 })).toBeUndefined();
    expect(await serverReflexiveAddress(mux, { host: '::1', port: 3478 })).toBeUndefined();
  });
});
