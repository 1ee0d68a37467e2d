import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  // No '.map': source maps are never served, even if a build left some behind.
};

/**
 * Serves the files under one folder for GET and HEAD. Only files with a known type
 * are served (source maps are not one), `/` maps to `index.html`, and no path can leave the folder.
 */
export class StaticFiles {
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Answers the request; returns false (having sent nothing) when no file matches. */
  async serve(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<boolean> {
    const file = this.resolve(pathname);
    if (!file) return false;
    const contentType = CONTENT_TYPES[path.extname(file)];
    if (!contentType) return false;
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return false;

    response.writeHead(200, {
      'Content-Type': contentType,
      'Content-Length': info.size,
      // The page is tiny and changes with the server; always revalidate.
      'Cache-Control': 'no-cache',
    });
    if (request.method === 'HEAD') {
      response.end();
      return true;
    }
    await new Promise<void>((resolve) => {
      const stream = createReadStream(file);
      stream.on('error', () => {
        response.destroy();
        resolve();
      });
      stream.on('end', resolve);
      stream.pipe(response);
    });
    return true;
  }

  private resolve(pathname: string): string | undefined {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0')) return undefined;
    const relative = decoded.endsWith('/') ? `${decoded}index.html` : decoded;
    const file = path.resolve(this.root, `.${path.posix.normalize(relative)}`);
    return file.startsWith(this.root + path.sep) ? file : undefined;
  }
}
