import { createReadStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MediaError } from '../core/errors.js';

/** Content-Type of each container, as GStreamer's muxers name their output caps (what KMS sends). */
export const CONTAINER_MIME: Record<'webm' | 'mkv' | 'mp4', string> = {
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  mp4: 'video/quicktime',
};

export interface UploadOptions {
  contentType: string;
  /** No progress (no byte sent and no answer) for this long fails the upload (ms). Default 30000. */
  idleTimeoutMs?: number;
}

/** A recording that could not be uploaded; `localPath` is the copy kept on disk. */
export class UploadError extends MediaError {
  constructor(
    message: string,
    readonly localPath: string,
    readonly status: number | undefined,
  ) {
    super('INVALID_STATE', message);
    this.name = 'UploadError';
  }
}

/**
 * Sends a file to `url` the way Kurento Media Server's recorder does (GStreamer's
 * curlhttpsink): one HTTP POST, `Transfer-Encoding: chunked`, the container's
 * Content-Type and a `Content-Disposition: attachment` naming the file. Resolves on a
 * 2xx answer; rejects with UploadError otherwise (refused, 4xx/5xx, connection cut).
 */
export async function uploadFile(path: string, url: string, options: UploadOptions): Promise<void> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const name = basename(decodeURIComponent(target.pathname)) || basename(path);
  const req = send(target, {
    method: 'POST',
    headers: {
      'Transfer-Encoding': 'chunked',
      'Content-Type': options.contentType,
      'Content-Disposition': `attachment; filename="${name.replaceAll('"', '')}"`,
    },
  });
  const idleMs = options.idleTimeoutMs ?? 30_000;
  req.setTimeout(idleMs, () => req.destroy(new Error(`no progress for ${idleMs} ms`)));
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  // A server that answers early (401, 413) may close before the body is sent: the
  // answer, not the write error, says what happened.
  answered.catch(() => undefined);
  const sent = pipeline(createReadStream(path), req).catch((error: unknown) => error as Error);
  let response: IncomingMessage;
  try {
    response = await answered;
  } catch (error) {
    const sendError = await sent;
    throw new UploadError(`upload of ${path} to ${url} failed: ${(sendError ?? (error as Error)).message}`, path, undefined);
  }
  response.resume();
  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    req.destroy();
    throw new UploadError(`upload of ${path} to ${url} failed: HTTP response error (received: ${String(status)})`, path, status);
  }
  const sendError = await sent;
  if (sendError) throw new UploadError(`upload of ${path} to ${url} failed: ${sendError.message}`, path, status);
}
