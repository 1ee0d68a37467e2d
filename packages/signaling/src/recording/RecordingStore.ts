import { mkdirSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordingId, RecordingInfo } from '@roundtable/protocol';

/**
 * Recordings on disk: `<dir>/<id>.webm` and its metadata `<dir>/<id>.json` beside it,
 * so a recording folder can be backed up, moved or pruned as plain files.
 */
export class RecordingStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  filePath(id: RecordingId): string {
    return join(this.dir, `${id}.webm`);
  }

  async save(info: RecordingInfo): Promise<void> {
    const path = join(this.dir, `${info.id}.json`);
    // Written whole then renamed: a crash never leaves half a metadata file.
    await writeFile(`${path}.tmp`, JSON.stringify(info, null, 2));
    await rename(`${path}.tmp`, path);
  }

  async get(id: RecordingId): Promise<RecordingInfo | undefined> {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) return undefined;
    try {
      const info = JSON.parse(await readFile(join(this.dir, `${id}.json`), 'utf8')) as RecordingInfo;
      // Written before durations were probed: unknown.
      return { ...info, duration: info.duration ?? null };
    } catch {
      return undefined;
    }
  }

  async all(): Promise<RecordingInfo[]> {
    const out: RecordingInfo[] = [];
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const info = await this.get(name.slice(0, -5) as RecordingId);
      if (info) out.push(info);
    }
    return out.sort((a, b) => b.startedAt - a.startedAt);
  }

  /** Removes a recording: its metadata first (so it leaves every list at once), then its file. */
  async delete(id: RecordingId): Promise<void> {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) return;
    await rm(join(this.dir, `${id}.json`), { force: true });
    await rm(this.filePath(id), { force: true });
  }
}
