import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MediaError } from '../core/errors.js';

/** Where a recorder writes: a local file, or an HTTP(S) URL the finished file is uploaded to. */
export type RecordingTarget = { kind: 'file'; path: string } | { kind: 'http'; url: string };

/** What a recorder's URI names: `file://` paths and `http(s)://` URLs; anything else is refused. */
export function recordingTargetOf(uri: string): RecordingTarget {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new MediaError('INVALID_ARGUMENT', `'${uri}' is not a URI (a recorder takes file:///path/name.webm or http(s)://host/path)`);
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    if (url.hostname === '') throw new MediaError('INVALID_ARGUMENT', `'${uri}': no host`);
    return { kind: 'http', url: url.href };
  }
  if (url.protocol !== 'file:') throw new MediaError('INVALID_ARGUMENT', `'${uri}': a recorder takes file://, http:// or https:// URIs`);
  return { kind: 'file', path: filePathOf(uri) };
}

/** The local path of a `file://` URI; anything else is refused. */
export function filePathOf(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new MediaError('INVALID_ARGUMENT', `'${uri}' is not a URI (a recorder takes file:///path/name.webm)`);
  }
  if (url.protocol !== 'file:') throw new MediaError('INVALID_ARGUMENT', `'${uri}' is not a file:// URI`);
  const path = fileURLToPath(url);
  // The path goes into a gst-launch description, where a double quote would end it.
  if (path.includes('"')) throw new MediaError('INVALID_ARGUMENT', `'${uri}': a path with a double quote is not supported`);
  return path;
}

/** Rejects with a clear MediaError when `path` cannot be created or overwritten. */
export async function checkWritable(path: string): Promise<void> {
  const dir = dirname(path);
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw new Error('not a directory');
    await access(dir, constants.W_OK);
  } catch (error) {
    throw new MediaError('INVALID_ARGUMENT', `cannot write ${path}: directory ${dir} is not writable (${(error as Error).message})`);
  }
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new MediaError('INVALID_ARGUMENT', `cannot write ${path}: it is a directory`);
    await access(path, constants.W_OK);
  } catch (error) {
    if (error instanceof MediaError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new MediaError('INVALID_ARGUMENT', `cannot write ${path}: ${(error as Error).message}`);
  }
}
