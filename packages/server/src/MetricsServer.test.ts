import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsServer, type MetricsServerOptions } from './MetricsServer.js';

const source = { contentType: 'text/plain; version=0.0.4; charset=utf-8', text: async () => 'up 1\n' };

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Partial<MetricsServerOptions> = {}): Promise<string> {
  server = new MetricsServer({ source, logger: pino({ level: 'silent' }), ...options });
  return server.listen();
}

describe('MetricsServer', () => {
  it('binds 127.0.0.1 by default and serves GET and HEAD /metrics, nothing else', async () => {
    const url = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(source.contentType);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.text()).toBe('up 1\n');
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(url.replace('/metrics', '/healthz'))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });

  it('with a token, a scrape without it or with another is 401, with it 200', async () => {
    const url = await start({ token: 's3cret-token' });
    const missing = await fetch(url);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
    expect(await missing.text()).not.toContain('up 1');
    expect((await fetch(url, { headers: { Authorization: 'Bearer wrong-token!' } })).status).toBe(401);
    expect((await fetch(url, { headers: { Authorization: 'Basic czNjcmV0LXRva2Vu' } })).status).toBe(401);
    const ok = await fetch(url, { headers: { Authorization: 'Bearer s3cret-token' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('up 1\n');
  });
});
