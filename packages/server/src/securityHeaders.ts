import type { IncomingMessage } from 'node:http';

/** A Host header we are willing to echo into the policy: a name or address and a port, nothing else. */
const PLAIN_HOST = /^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i;

/**
 * The headers every HTTP answer carries. The web app keeps a device token in
 * localStorage, so what matters most is that no other script runs in its pages and no
 * other site frames them:
 *
 * - `Content-Security-Policy`: scripts, styles, fonts and the app's own requests from
 *   this origin only (the built bundle is module scripts and one stylesheet; Vue's
 *   `:style` bindings go through the CSSOM, which the policy does not govern); media
 *   and images from this origin, `blob:` (camera previews) and `data:` (the favicon);
 *   WebSockets to this host (`'self'` covers ws:/wss: in current browsers; the explicit
 *   host is for those that do not); no plugins, no `<base>`, forms to this origin;
 *   `frame-ancestors 'none'`: no framing (clickjacking).
 * - `X-Frame-Options: DENY`: the same, for browsers without `frame-ancestors`.
 * - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` (signed recording
 *   links carry their signature in the URL), `Cross-Origin-Opener-Policy: same-origin`.
 */
export function securityHeaders(request: IncomingMessage): Record<string, string> {
  const host = request.headers.host;
  const sockets = host !== undefined && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  const policy = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "font-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    'Content-Security-Policy': policy,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  };
}
