import { createReadStream, mkdirSync } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { RecordingId, RecordingInfo } from '@roundtable/protocol';
import type { Store } from '../store/Store.js';

/** Where finished recordings' files go besides the recordings folder. */
export interface RecordingUpload {
  /** Base URL: a finished file is PUT to `<url><id>.webm` (an HTTP(S) store that takes PUT, GET and DELETE: a WebDAV folder, an object store's endpoint). */
  url: string;
  /** Sent as `Authorization: Bearer <token>` with each request. Default: none. */
  token?: string;
}

const ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Recordings: their files in `<dir>/<id>.webm` (the folder the media server writes to),
 * their metadata in the store's `recordings` table (SQLite or PostgreSQL, so that every
 * signaling node lists the same ones). Without a store (unit tests), the metadata is a
 * JSON file beside each recording, as before the table existed; `importFiles()` moves
 * such files' metadata into the store. With `upload`, a finished file is uploaded and its
 * local copy removed: any node then serves it from there.
 */
export class RecordingStore {
  constructor(
    readonly dir: string,
    private readonly db?: Store,
    private readonly upload?: RecordingUpload,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  filePath(id: RecordingId): string {
    return join(this.dir, `${id}.webm`);
  }

  async save(info: RecordingInfo): Promise<void> {
    if (this.db) return this.db.saveRecording(info);
    const path = join(this.dir, `${info.id}.json`);
    // Written whole then renamed: a crash never leaves half a metadata file.
    await writeFile(`${path}.tmp`, JSON.stringify(info, null, 2));
    await rename(`${path}.tmp`, path);
  }

  async get(id: RecordingId): Promise<RecordingInfo | undefined> {
    if (!ID.test(id)) return undefined;
    if (this.db) return (await this.db.recordingById(id))?.info;
    return this.readJson(id);
  }

  /** Where the recording's file was uploaded; undefined when it is in the folder. */
  async fileUrl(id: RecordingId): Promise<string | undefined> {
    if (!this.db || !ID.test(id)) return undefined;
    return (await this.db.recordingById(id))?.fileUrl ?? undefined;
  }

  async all(): Promise<RecordingInfo[]> {
    if (this.db) return (await this.db.recordings()).map((r) => r.info);
    const out: RecordingInfo[] = [];
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const info = await this.readJson(name.slice(0, -5) as RecordingId);
      if (info) out.push(info);
    }
    return out.sort((a, b) => b.startedAt - a.startedAt);
  }

  /** Removes a recording: its metadata first (so it leaves every list at once), then its file (uploaded or local). */
  async delete(id: RecordingId): Promise<void> {
    if (!ID.test(id)) return;
    const url = await this.fileUrl(id);
    if (this.db) await this.db.deleteRecording(id);
    await rm(join(this.dir, `${id}.json`), { force: true });
    await rm(this.filePath(id), { force: true });
    if (url) await fetch(url, { method: 'DELETE', headers: this.headers() }).catch(() => undefined);
  }

  /**
   * Moves the metadata of recordings made before the store kept it (JSON files in the
   * folder) into the store; the JSON files are renamed `.json.imported`. Returns how many.
   */
  async importFiles(): Promise<number> {
    if (!this.db) return 0;
    let imported = 0;
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -5) as RecordingId;
      const info = await this.readJson(id);
      if (!info) continue;
      if (!(await this.db.recordingById(id))) {
        await this.db.saveRecording(info, null);
        imported++;
      }
      await rename(join(this.dir, name), join(this.dir, `${name}.imported`));
    }
    return imported;
  }

  /** Whether finished files are uploaded. */
  get uploads(): boolean {
    return this.upload !== undefined && this.db !== undefined;
  }

  /**
   * Uploads a finished recording's file and records where; the local copy is removed once
   * the upload is recorded. Rejects (keeping the local file) when the upload fails.
   */
  async uploadFile(info: RecordingInfo): Promise<string> {
    if (!this.upload || !this.db) throw new Error('recordings are not uploaded');
    const path = this.filePath(info.id);
    const url = new URL(`${info.id}.webm`, this.upload.url.endsWith('/') ? this.upload.url : `${this.upload.url}/`).toString();
    const size = (await stat(path)).size;
    const response = await fetch(url, {
      method: 'PUT',
      headers: { ...this.headers(), 'Content-Type': info.mimeType, 'Content-Length': String(size) },
      body: Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
      duplex: 'half',
    } as RequestInit);
    await response.body?.cancel();
    if (!response.ok) throw new Error(`PUT ${url} answered ${response.status}`);
    await this.db.saveRecording(info, url);
    await rm(path, { force: true });
    return url;
  }

  /** Fetches an uploaded file (with the client's Range header, if any). */
  fetchUploaded(url: string, range: string | undefined): Promise<Response> {
    return fetch(url, { headers: { ...this.headers(), ...(range ? { Range: range } : {}) } });
  }

  private headers(): Record<string, string> {
    return this.upload?.token ? { Authorization: `Bearer ${this.upload.token}` } : {};
  }

  private async readJson(id: RecordingId): Promise<RecordingInfo | undefined> {
    try {
      const info = JSON.parse(await readFile(join(this.dir, `${id}.json`), 'utf8')) as RecordingInfo;
      // Written before durations were probed: unknown.
      return { ...info, duration: info.duration ?? null };
    } catch {
      return undefined;
    }
  }
}
