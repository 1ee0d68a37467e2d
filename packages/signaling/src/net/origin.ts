import type { IncomingMessage } from 'node:http';

/**
 * Whether a WebSocket upgrade may proceed, judged by its Origin header: browsers always
 * send one, so a page of another site cannot open a socket to ours with the user's
 * network position (or, for `/ws/loopback`, make us build media pipelines for it).
 *
 * - no Origin header: allowed (a non-browser client: the Node SDK, a test, a script);
 * - the same origin as the request's Host header (or as its `X-Forwarded-Host`, which a
 *   reverse proxy that rewrites Host sets; a page cannot set it on a WebSocket): allowed;
 * - an origin in `allowed` (`scheme://host[:port]`, compared after URL normalisation),
 *   or `*` in `allowed`: allowed;
 * - anything else, `null` included (sandboxed frames, file: pages): refused.
 */
export function originAllowed(request: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes('*')) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin === 'null') return false;
  const forwarded = request.headers['x-forwarded-host'];
  const hosts = [request.headers.host, ...(typeof forwarded === 'string' ? forwarded.split(',') : [])].map((host) => host?.trim().toLowerCase());
  if (hosts.includes(url.host)) return true;
  return allowed.some((entry) => normalizeOrigin(entry) === url.origin);
}

/** `scheme://host[:port]` of an origin as the allow-list is written; undefined for a malformed one. */
export function normalizeOrigin(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.origin === 'null' ? undefined : url.origin;
  } catch {
    return undefined;
  }
}

/** Refuses an upgrade from a foreign page with 403, before any WebSocket exists. */
const FORBIDDEN_BODY = 'this origin is not allowed\n';
export const FORBIDDEN_ORIGIN_RESPONSE = `HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${FORBIDDEN_BODY.length}\r\n\r\n${FORBIDDEN_BODY}`;
