import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { originAllowed } from './origin.js';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

describe('originAllowed()', () => {
  it('allows a request without Origin (a non-browser client) and one from the same origin as its Host', () => {
    expect(originAllowed(request({ host: 'rt.example.com' }), [])).toBe(true);
    expect(originAllowed(request({ host: 'rt.example.com', origin: 'https://rt.example.com' }), [])).toBe(true);
    expect(originAllowed(request({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' }), [])).toBe(true);
    expect(originAllowed(request({ host: 'RT.example.com', origin: 'https://rt.example.com' }), [])).toBe(true);
  });

  it('allows the origin a reverse proxy names in X-Forwarded-Host when it rewrote Host', () => {
    expect(originAllowed(request({ host: '127.0.0.1:8080', 'x-forwarded-host': 'rt.example.com', origin: 'https://rt.example.com' }), [])).toBe(true);
    expect(originAllowed(request({ host: '127.0.0.1:8080', 'x-forwarded-host': 'rt.example.com', origin: 'https://evil.example' }), [])).toBe(false);
  });

  it('refuses another site, another port, null and a malformed Origin', () => {
    expect(originAllowed(request({ host: 'rt.example.com', origin: 'https://evil.example' }), [])).toBe(false);
    expect(originAllowed(request({ host: 'rt.example.com:8080', origin: 'http://rt.example.com:9090' }), [])).toBe(false);
    expect(originAllowed(request({ host: 'rt.example.com', origin: 'null' }), [])).toBe(false);
    expect(originAllowed(request({ host: 'rt.example.com', origin: 'not a url' }), [])).toBe(false);
  });

  it('allows the origins in the list, and any with *', () => {
    const allowed = ['https://app.example.com', 'http://localhost:5173'];
    expect(originAllowed(request({ host: 'rt.example.com', origin: 'https://app.example.com' }), allowed)).toBe(true);
    expect(originAllowed(request({ host: 'rt.example.com', origin: 'http://localhost:5173' }), allowed)).toBe(true);
    expect(originAllowed(request({ host: 'rt.example.com', origin: 'http://app.example.com' }), allowed)).toBe(false);
    expect(originAllowed(request({ host: 'rt.example.com', origin: 'https://evil.example' }), ['*'])).toBe(true);
  });
});
