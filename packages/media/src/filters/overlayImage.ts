import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MediaError } from '../core/errors.js';

/** A picture fetched for an overlay. */
export interface OverlayImage {
  data: Buffer;
  mimeType: 'image/png' | 'image/jpeg' | 'image/gif';
  width: number;
  height: number;
}

export interface FetchImageOptions {
  /** Give up after this long, ms. Default 10000. */
  timeoutMs?: number;
  /** Largest picture accepted, bytes. Default 10 MiB. */
  maxBytes?: number;
}

const MAX_REDIRECTS = 3;

/**
 * Fetches an overlay picture from the application's http:// or https:// URL, as
 * Kurento Media Server does: https certificates are not verified (KMS's libsoup
 * session is not strict, so a self-signed certificate, as in Kurento's magic-mirror
 * tutorial, works; a warning is logged). PNG, JPEG and GIF are accepted.
 */
export async function fetchOverlayImage(uri: string, options: FetchImageOptions = {}): Promise<OverlayImage> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new MediaError('INVALID_ARGUMENT', `'${uri}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MediaError('INVALID_ARGUMENT', `overlay images are fetched from http:// or https:// URLs, not '${url.protocol}'`);
  }
  const data = await get(url, options.timeoutMs ?? 10_000, options.maxBytes ?? 10 * 1024 * 1024, MAX_REDIRECTS);
  const image = sniffImage(data);
  if (!image) throw new MediaError('INVALID_ARGUMENT', `${uri} is not a PNG, JPEG or GIF picture`);
  return image;
}

function get(url: URL, timeoutMs: number, maxBytes: number, redirects: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const req = (secure ? httpsRequest : httpRequest)(url, { method: 'GET', timeout: timeoutMs, ...(secure ? { rejectUnauthorized: false } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      const socket = res.socket as { authorized?: boolean; authorizationError?: Error };
      if (secure && socket.authorized === false) {
        console.warn(`overlay image ${url.href}: https certificate not trusted (${String(socket.authorizationError)}); fetched anyway, as Kurento does`);
      }
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        get(new URL(res.headers.location, url), timeoutMs, maxBytes, redirects - 1).then(resolve, reject);
        return;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        reject(new MediaError('INVALID_ARGUMENT', `fetching ${url.href} answered HTTP ${status}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          req.destroy(new MediaError('INVALID_ARGUMENT', `${url.href} is larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new MediaError('INVALID_ARGUMENT', `fetching ${url.href} timed out after ${timeoutMs} ms`)));
    req.on('error', (error) => reject(error instanceof MediaError ? error : new MediaError('INVALID_ARGUMENT', `fetching ${url.href} failed: ${error.message}`)));
    req.end();
  });
}

/** Type and pixel size of a PNG, JPEG or GIF, from its header. */
export function sniffImage(data: Buffer): OverlayImage | undefined {
  if (data.length > 24 && data.readUInt32BE(0) === 0x89504e47 && data.toString('latin1', 12, 16) === 'IHDR') {
    return { data, mimeType: 'image/png', width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  if (data.length > 10 && data.toString('latin1', 0, 4) === 'GIF8') {
    return { data, mimeType: 'image/gif', width: data.readUInt16LE(6), height: data.readUInt16LE(8) };
  }
  if (data.length > 4 && data[0] === 0xff && data[1] === 0xd8) {
    let i = 2;
    while (i + 9 < data.length) {
      if (data[i] !== 0xff) return undefined;
      const marker = data[i + 1]!;
      const length = data.readUInt16BE(i + 2);
      // SOF0..SOF15 carry the size, except DHT (C4), JPG (C8) and DAC (CC).
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { data, mimeType: 'image/jpeg', height: data.readUInt16BE(i + 5), width: data.readUInt16BE(i + 7) };
      }
      i += 2 + length;
    }
  }
  return undefined;
}

export interface PlacedImage {
  image: OverlayImage;
  x: number;
  y: number;
  width: number;
  height: number;
}

const num = (n: number): string => String(Math.round(n * 100) / 100);

/**
 * An SVG of `width` x `height` user units holding the pictures (as data: URIs) at the
 * given places, stretched to them (the places already keep any aspect ratio wanted).
 */
export function overlaySvg(width: number, height: number, placed: PlacedImage[]): string {
  const images = placed.map(
    (p) =>
      `<image x="${num(p.x)}" y="${num(p.y)}" width="${num(p.width)}" height="${num(p.height)}" preserveAspectRatio="none" ` +
      `xlink:href="data:${p.image.mimeType};base64,${p.image.data.toString('base64')}"/>`,
  );
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" preserveAspectRatio="none">${images.join('')}</svg>`
  );
}
