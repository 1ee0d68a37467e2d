import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig() did not throw');
}

describe('loadConfig()', () => {
  it('returns the defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual({ host: '0.0.0.0', port: 8080, media: {}, kurento: { host: '127.0.0.1', port: 8888 }, signaling: { dbPath: '.roundtable/roundtable.db', iceServers: [], ringTimeoutMs: 60000 } });
  });

  it('treats blank variables as unset', () => {
    expect(loadConfig({ ROUNDTABLE_HOST: ' ', ROUNDTABLE_PORT: '', ROUNDTABLE_ICE_ADDRESSES: '' })).toEqual({
      host: '0.0.0.0',
      port: 8080,
      media: {},
      kurento: { host: '127.0.0.1', port: 8888 },
      signaling: { dbPath: '.roundtable/roundtable.db', iceServers: [], ringTimeoutMs: 60000 },
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      ROUNDTABLE_HOST: '127.0.0.1',
      ROUNDTABLE_PORT: '9090',
      ROUNDTABLE_ICE_ADDRESSES: '127.0.0.1, 10.0.0.5',
      ROUNDTABLE_PORT_RANGE: '41000-41999',
      ROUNDTABLE_ANNOUNCED_ADDRESS: '198.51.100.7',
    });
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 9090,
      media: { iceAddresses: ['127.0.0.1', '10.0.0.5'], portRange: [41000, 41999], announcedAddress: '198.51.100.7' },
      kurento: { host: '127.0.0.1', port: 8888 },
      signaling: { dbPath: '.roundtable/roundtable.db', iceServers: [], ringTimeoutMs: 60000 },
    });
  });

  it('accepts a hostname, an IPv6 address and port 0', () => {
    expect(loadConfig({ ROUNDTABLE_HOST: 'localhost' }).host).toBe('localhost');
    expect(loadConfig({ ROUNDTABLE_HOST: '::' }).host).toBe('::');
    expect(loadConfig({ ROUNDTABLE_PORT: '0' }).port).toBe(0);
  });

  it.each([
    ['ROUNDTABLE_PORT', 'http', /not a port number/],
    ['ROUNDTABLE_PORT', '8080.5', /not a port number/],
    ['ROUNDTABLE_PORT', '-1', /not a port number/],
    ['ROUNDTABLE_PORT', '70000', /out of range/],
    ['ROUNDTABLE_HOST', 'not a host!', /neither an IP address nor a hostname/],
    ['ROUNDTABLE_ICE_ADDRESSES', '127.0.0.1,,10.0.0.1', /empty entry/],
    ['ROUNDTABLE_ICE_ADDRESSES', '127.0.0.1,eth0', /'eth0' is not an IPv4 or IPv6 address/],
    ['ROUNDTABLE_PORT_RANGE', '40000', /not a port range/],
    ['ROUNDTABLE_PORT_RANGE', '40000-', /not a port range/],
    ['ROUNDTABLE_PORT_RANGE', '49999-40000', /needs MIN below MAX/],
    ['ROUNDTABLE_PORT_RANGE', '40000-40000', /needs MIN below MAX/],
    ['ROUNDTABLE_PORT_RANGE', '80-90', /out of range/],
    ['ROUNDTABLE_PORT_RANGE', '40000-70000', /out of range/],
    ['ROUNDTABLE_ANNOUNCED_ADDRESS', 'example.com', /not an IPv4 or IPv6 address/],
  ])('rejects %s=%s with a ConfigError naming the variable', (variable, value, reason) => {
    const error = configError({ [variable]: value });

    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(new RegExp(`^${variable}: `));
    expect(error.message).toMatch(reason);
  });

  it('reads the Kurento Protocol settings, and turns the endpoint off on request', () => {
    expect(loadConfig({ ROUNDTABLE_KURENTO_HOST: '0.0.0.0', ROUNDTABLE_KURENTO_PORT: '9999', ROUNDTABLE_KURENTO_SECRET: 'k' }).kurento).toEqual({
      host: '0.0.0.0',
      port: 9999,
      secret: 'k',
    });
    expect(loadConfig({ ROUNDTABLE_KURENTO: 'off' }).kurento).toBe(false);
    expect(configError({ ROUNDTABLE_KURENTO: 'maybe' }).message).toMatch(/^ROUNDTABLE_KURENTO: /);
    expect(configError({ ROUNDTABLE_KURENTO_PORT: '70000' }).message).toMatch(/^ROUNDTABLE_KURENTO_PORT: /);
  });

  it('reads the signaling settings and refuses bad ones by name', () => {
    const config = loadConfig({
      ROUNDTABLE_DB: '/var/lib/roundtable/db.sqlite',
      ROUNDTABLE_ICE_SERVERS: 'stun:stun.example.com:3478, turn:turn.example.com:3478?transport=udp',
      ROUNDTABLE_TURN_SECRET: 's',
      ROUNDTABLE_RING_TIMEOUT_MS: '30000',
      ROUNDTABLE_MEDIA_URL: 'ws://media.example.com:8888/kurento',
    });
    expect(config.signaling).toEqual({
      dbPath: '/var/lib/roundtable/db.sqlite',
      iceServers: ['stun:stun.example.com:3478', 'turn:turn.example.com:3478?transport=udp'],
      turnSecret: 's',
      ringTimeoutMs: 30000,
      mediaUrl: 'ws://media.example.com:8888/kurento',
    });
    expect(configError({ ROUNDTABLE_ICE_SERVERS: 'http://x' }).message).toMatch(/^ROUNDTABLE_ICE_SERVERS: /);
    expect(configError({ ROUNDTABLE_ICE_SERVERS: 'turn:t:3478' }).message).toMatch(/^ROUNDTABLE_TURN_SECRET: /);
    expect(configError({ ROUNDTABLE_RING_TIMEOUT_MS: '5' }).message).toMatch(/^ROUNDTABLE_RING_TIMEOUT_MS: /);
    expect(configError({ ROUNDTABLE_MEDIA_URL: 'media-host' }).message).toMatch(/^ROUNDTABLE_MEDIA_URL: /);
  });
});
