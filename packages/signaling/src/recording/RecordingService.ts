import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallId, RecordingId, RecordingInfo, RequestOf, RoomName, ServerNotification, UserId } from '@roundtable/protocol';
import { finaliseRecording, probeMedia } from '@roundtable/media';
import { silentLogger, type Logger } from '../logger.js';
import type { MediaRoom, RoomRecordingResult } from '../media/MediaServer.js';
import { SignalingError, type HandlerTable, type RequestContext } from '../net/Handlers.js';
import type { Router } from '../net/Router.js';
import type { Store } from '../store/Store.js';
import { RecordingStore, type RecordingUpload } from './RecordingStore.js';

/** What recording needs to know of a call: who is in it and its media room (none for P2P). */
export interface RecordableCall {
  readonly participants: ReadonlyMap<UserId, unknown>;
  readonly room: MediaRoom | undefined;
  readonly audioOnly: boolean;
}

/** What recording needs to know of an open room. */
export interface RecordableRoom {
  readonly media: MediaRoom;
  readonly members: ReadonlyMap<UserId, unknown>;
}

export interface RecordingServiceOptions {
  router: Router;
  calls: { find(id: CallId): RecordableCall | undefined };
  rooms: { find(name: RoomName): RecordableRoom | undefined };
  /** Resolves a device token (for downloads with `Authorization: Bearer`). */
  auth: { authenticate(token: string): Promise<{ userId: UserId }> };
  /**
   * Folder of the recordings. The media server writes the files there, so with a
   * remote media server it must be the same path on both hosts (a shared folder).
   */
  directory: string;
  /** Where the recordings' metadata is kept (every signaling node sees the same). Default: a JSON file beside each recording. */
  store?: Store;
  /** Upload each finished file there (and serve it from there). Default: files stay in `directory`. */
  upload?: RecordingUpload;
  /** Lifetime of links from `recordings.link` (ms). Default 5 minutes. */
  linkTtlMs?: number;
  /** Key of the signed links. Default: random per process (links die with a restart). */
  linkSecret?: Buffer;
  /** Quotas and retention. Defaults: `DEFAULT_RECORDING_LIMITS`. */
  limits?: RecordingLimits;
  /** Clock, in ms (retention ages, timestamps). Default `Date.now`. */
  now?: () => number;
  logger?: Logger;
}

export interface RecordingLimits {
  /** Recordings one user may have running at once (started by them). Default 2. */
  maxActivePerUser?: number;
  /** Recordings running at once on this server (each is a few child processes). Default 4. */
  maxActive?: number;
  /** Bytes of recordings one user may have (the ones they started, finished and running); 0: no limit. Default 5 GiB. */
  diskQuotaPerUserBytes?: number;
  /** Bytes of all recordings; 0: no limit. Default 50 GiB. */
  diskQuotaTotalBytes?: number;
  /** How often running recordings are measured against the disk quotas (ms). Default 5000. */
  quotaCheckIntervalMs?: number;
  /** Recordings older than this many days (by their end) are deleted; 0: kept for ever. Default 0. */
  retentionDays?: number;
  /** How often the retention sweep runs (ms). Default 1 hour. */
  retentionSweepIntervalMs?: number;
}

const GIB = 1024 ** 3;
export const DEFAULT_RECORDING_LIMITS = {
  maxActivePerUser: 2,
  maxActive: 4,
  diskQuotaPerUserBytes: 5 * GIB,
  diskQuotaTotalBytes: 50 * GIB,
  quotaCheckIntervalMs: 5000,
  retentionDays: 0,
  retentionSweepIntervalMs: 3_600_000,
} as const satisfies Required<RecordingLimits>;

const DAY_MS = 24 * 3_600_000;

interface Active {
  info: RecordingInfo;
  target: { kind: 'call'; id: CallId } | { kind: 'room'; name: RoomName };
  room: MediaRoom;
  stoppedBy: UserId | null;
  /** Set when the server stopped it for the disk quota. */
  reason?: 'diskQuota';
}

const PATH = /^\/recordings\/([A-Za-z0-9-]{1,64})$/;

/**
 * Recording of calls and rooms through the media server: any participant may start or
 * stop it (everyone in it is told, so UIs can show a red dot); a recording is listed
 * and downloadable by the people who were in the call or room while it was recorded.
 * One file per recording: the media server records a Composite of all participants.
 */
export class RecordingService {
  private readonly store: RecordingStore;
  private readonly active = new Map<MediaRoom, Active>();
  private readonly watched = new WeakSet<MediaRoom>();
  private readonly secret: Buffer;
  private readonly log: Logger;
  private readonly limits: Required<RecordingLimits>;
  private readonly now: () => number;
  /** Sizes of the finished recordings by who started them, loaded once from the store. */
  private finishedSizes: Promise<Map<RecordingId, { startedBy: UserId; size: number }>> | undefined;
  private quotaTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: RecordingServiceOptions) {
    this.store = new RecordingStore(options.directory, options.store, options.upload);
    this.secret = options.linkSecret ?? randomBytes(32);
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.limits = { ...DEFAULT_RECORDING_LIMITS, ...definedOnly(options.limits ?? {}) };
    const l = this.limits;
    if (!(l.maxActivePerUser >= 1) || !(l.maxActive >= 1)) throw new RangeError('maxActivePerUser and maxActive must be at least 1');
    if (!(l.diskQuotaPerUserBytes >= 0) || !(l.diskQuotaTotalBytes >= 0) || !(l.retentionDays >= 0)) throw new RangeError('disk quotas and retentionDays must not be negative');
    if (!(l.quotaCheckIntervalMs > 0) || !(l.retentionSweepIntervalMs > 0)) throw new RangeError('check intervals must be positive');
    if (l.retentionDays > 0) {
      this.sweepTimer = setInterval(() => void this.sweep().catch((error: unknown) => this.log.warn({ event: 'retentionSweepFailed', err: error }, 'retention sweep failed')), l.retentionSweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  /**
   * Recordings left 'recording' by a previous process (killed, or the machine stopped,
   * before it finished them): their file is finalised (the segments of recorder restarts
   * joined, a cut file remuxed so it has a duration and plays to where it stopped) and
   * they are marked failed.
   */
  async recover(): Promise<void> {
    for (const info of await this.store.all()) {
      if (info.status !== 'recording') continue;
      const path = this.store.filePath(info.id);
      try {
        if (((await sizeOf(path)) ?? 0) > 0) await finaliseRecording(path);
      } catch (error) {
        this.log.warn({ event: 'recordingRecoveryFailed', recordingId: info.id, err: error }, 'an unfinished recording could not be finalised');
      }
      await this.store.save({ ...info, status: 'failed', endedAt: info.endedAt ?? Date.now(), size: await sizeOf(path), duration: await this.durationOf(path) });
      this.log.warn({ event: 'recordingRecovered', recordingId: info.id, size: await sizeOf(path) }, 'a recording left unfinished by the previous process was marked failed');
    }
  }

  /** Moves the metadata of recordings made before the store kept it (JSON files) into the store. */
  async importFiles(): Promise<void> {
    const imported = await this.store.importFiles();
    if (imported > 0) this.log.info({ event: 'recordingsImported', recordings: imported }, 'recordings\' metadata moved from JSON files into the database');
  }

  handlers(): HandlerTable {
    return {
      'call.record': (r, ctx) => this.callRecord(r, ctx),
      'room.record': (r, ctx) => this.roomRecord(r, ctx),
      'recordings.list': (_r, ctx) => this.list(ctx.link.userId),
      'recordings.link': (r, ctx) => this.link(r, ctx),
      'recordings.delete': (r, ctx) => this.deleteRequest(r, ctx),
    };
  }

  /**
   * Someone joined a call or room (answered, joined late): when it is being recorded,
   * they get the recording notification the others got at its start, so they see REC too.
   */
  joined(target: { callId: CallId } | { room: RoomName }, user: UserId): void {
    for (const active of this.active.values()) {
      const t = active.target;
      const same = 'callId' in target ? t.kind === 'call' && t.id === target.callId : t.kind === 'room' && t.name === target.room;
      if (!same) continue;
      this.options.router.sendToUser(user, this.notification(active, true, active.info.startedBy));
    }
  }

  get recordingCount(): number {
    return this.active.size;
  }

  /** Stops every recording (server shutdown), finishing the files, and the quota and retention timers. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    clearInterval(this.quotaTimer);
    this.quotaTimer = undefined;
    for (const room of [...this.active.keys()]) await room.stopRecording().catch(() => undefined);
  }

  /**
   * Bytes of recordings, in total and started by `user`: the finished ones as stored,
   * the running ones as their files are now.
   */
  async diskUsage(user?: UserId): Promise<{ total: number; user: number }> {
    let total = 0;
    let mine = 0;
    for (const entry of (await this.sizes()).values()) {
      total += entry.size;
      if (entry.startedBy === user) mine += entry.size;
    }
    for (const active of this.active.values()) {
      const size = (await sizeOf(this.store.filePath(active.info.id))) ?? 0;
      total += size;
      if (active.info.startedBy === user) mine += size;
    }
    return { total, user: mine };
  }

  /**
   * Retention: deletes the finished recordings that ended more than `retentionDays` ago
   * (running ones are never touched). Runs every `retentionSweepIntervalMs` when
   * retention is on; returns the ids deleted.
   */
  async sweep(): Promise<RecordingId[]> {
    const days = this.limits.retentionDays;
    if (days <= 0) return [];
    const before = this.now() - days * DAY_MS;
    const deleted: RecordingId[] = [];
    for (const info of await this.store.all()) {
      if (info.status === 'recording' || this.isActive(info.id)) continue;
      if ((info.endedAt ?? info.startedAt) >= before) continue;
      await this.remove(info.id);
      deleted.push(info.id);
    }
    if (deleted.length > 0) this.log.info({ event: 'retentionSweep', deleted: deleted.length, retentionDays: days }, 'old recordings deleted');
    return deleted;
  }

  /** Serves GET /recordings/<id>; returns false for other paths. */
  async handleHttp(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const match = PATH.exec(url.pathname);
    if (!match) return false;
    const id = match[1] as RecordingId;
    try {
      const info = await this.store.get(id);
      if (!info) return reply(response, 404, 'no such recording');
      const allowed = await this.httpUser(request, url, info);
      if (allowed === 'anonymous') {
        response.setHeader('WWW-Authenticate', 'Bearer');
        return reply(response, 401, 'send Authorization: Bearer <device token>, or use a link from recordings.link');
      }
      if (!allowed) return reply(response, 403, 'not a participant of this recording');
      if (info.status === 'recording') return reply(response, 409, 'still recording');
      await this.sendFile(request, response, info);
    } catch (error) {
      this.log.warn({ event: 'recordingDownloadFailed', recordingId: id, err: error }, 'recording download failed');
      if (!response.headersSent) reply(response, 500, 'could not read the recording');
      else response.destroy();
    }
    return true;
  }

  // --- handlers -------------------------------------------------------------------

  private async callRecord(r: RequestOf<'call.record'>, ctx: RequestContext): Promise<unknown> {
    const me = ctx.link.userId;
    const call = this.options.calls.find(r.callId);
    if (!call) throw new SignalingError('NOT_FOUND', `no call ${r.callId}`);
    if (!call.participants.has(me)) throw new SignalingError('FORBIDDEN', 'only a participant of the call can record it');
    if (!call.room) throw new SignalingError('INVALID_STATE', 'a peer-to-peer call does not pass through the media server: it cannot be recorded');
    const target = { kind: 'call' as const, id: r.callId };
    return r.action === 'start'
      ? this.start(call.room, target, me, [...call.participants.keys()], !call.audioOnly)
      : this.stop(call.room, me);
  }

  private async roomRecord(r: RequestOf<'room.record'>, ctx: RequestContext): Promise<unknown> {
    const me = ctx.link.userId;
    const room = this.options.rooms.find(r.room);
    if (!room) throw new SignalingError('NOT_FOUND', `no room ${r.room}`);
    if (!room.members.has(me)) throw new SignalingError('FORBIDDEN', 'only a member of the room can record it');
    const target = { kind: 'room' as const, name: r.room };
    return r.action === 'start' ? this.start(room.media, target, me, [...room.members.keys()], true) : this.stop(room.media, me);
  }

  private async start(room: MediaRoom, target: Active['target'], me: UserId, participants: UserId[], video: boolean): Promise<{ recordingId: RecordingId }> {
    if (this.active.has(room) || room.recording) throw new SignalingError('INVALID_STATE', 'already being recorded');
    this.checkActiveQuotas(me);
    await this.checkDiskQuotas(me);
    // The disk check awaited: other starts may have run meanwhile, so the counts are checked again.
    if (this.active.has(room) || room.recording) throw new SignalingError('INVALID_STATE', 'already being recorded');
    this.checkActiveQuotas(me);
    const id = randomUUID() as RecordingId;
    const info: RecordingInfo = {
      id,
      callId: target.kind === 'call' ? target.id : null,
      room: target.kind === 'room' ? target.name : null,
      startedBy: me,
      participants,
      startedAt: this.now(),
      endedAt: null,
      status: 'recording',
      size: null,
      duration: null,
      mimeType: video ? 'video/webm' : 'audio/webm',
      downloadPath: `/recordings/${id}`,
    };
    const active: Active = { info, target, room, stoppedBy: null };
    this.active.set(room, active);
    if (!this.watched.has(room)) {
      this.watched.add(room);
      room.onRecordingEnded((result) => void this.finish(room, result));
    }
    try {
      await this.store.save(info);
      await room.startRecording({ path: this.store.filePath(id), video });
    } catch (error) {
      this.active.delete(room);
      await this.store.save({ ...info, status: 'failed', endedAt: Date.now() }).catch(() => undefined);
      this.log.warn({ event: 'recordingFailed', recordingId: id, err: error }, 'recording did not start');
      throw error instanceof SignalingError ? error : new SignalingError('MEDIA_ERROR', String(error));
    }
    this.log.info({ event: 'recordingStarted', recordingId: id, ...this.targetIds(target), userId: me }, 'recording started');
    this.notify(active, true, me);
    this.watchQuota();
    return { recordingId: id };
  }

  /** Refuses a start (QUOTA_EXCEEDED) that would pass the running recordings of the user or of the server. */
  private checkActiveQuotas(me: UserId): void {
    const l = this.limits;
    const mine = [...this.active.values()].filter((a) => a.info.startedBy === me).length;
    if (mine >= l.maxActivePerUser) throw new SignalingError('QUOTA_EXCEEDED', `you are running ${mine} recordings, the most one user may run at once (${l.maxActivePerUser})`);
    if (this.active.size >= l.maxActive) throw new SignalingError('QUOTA_EXCEEDED', `the server is running ${this.active.size} recordings, its most at once (${l.maxActive}); try again later`);
  }

  /** Refuses a start (QUOTA_EXCEEDED) when the user's or the server's recordings fill their disk quota. */
  private async checkDiskQuotas(me: UserId): Promise<void> {
    const l = this.limits;
    if (l.diskQuotaPerUserBytes === 0 && l.diskQuotaTotalBytes === 0) return;
    const usage = await this.diskUsage(me);
    if (l.diskQuotaPerUserBytes > 0 && usage.user >= l.diskQuotaPerUserBytes) {
      throw new SignalingError('QUOTA_EXCEEDED', `your recordings take ${usage.user} bytes, your disk quota is ${l.diskQuotaPerUserBytes}; delete some first`);
    }
    if (l.diskQuotaTotalBytes > 0 && usage.total >= l.diskQuotaTotalBytes) {
      throw new SignalingError('QUOTA_EXCEEDED', `the server's recordings take ${usage.total} bytes, its disk quota is ${l.diskQuotaTotalBytes}`);
    }
  }

  /** While anything records, measures the running recordings against the disk quotas now and then. */
  private watchQuota(): void {
    if (this.quotaTimer || this.closed) return;
    if (this.limits.diskQuotaPerUserBytes === 0 && this.limits.diskQuotaTotalBytes === 0) return;
    this.quotaTimer = setInterval(() => void this.enforceDiskQuota().catch((error: unknown) => this.log.warn({ event: 'diskQuotaCheckFailed', err: error }, 'disk quota check failed')), this.limits.quotaCheckIntervalMs);
    this.quotaTimer.unref();
  }

  /**
   * Stops (cleanly: the file is finished and playable) every running recording whose
   * starter is over their disk quota, or all of them when the server is over its quota.
   * Everyone in the call or room is told, with `reason: 'diskQuota'`.
   */
  async enforceDiskQuota(): Promise<RecordingId[]> {
    if (this.active.size === 0) {
      clearInterval(this.quotaTimer);
      this.quotaTimer = undefined;
      return [];
    }
    const l = this.limits;
    const total = l.diskQuotaTotalBytes > 0 ? (await this.diskUsage()).total : 0;
    const overTotal = l.diskQuotaTotalBytes > 0 && total >= l.diskQuotaTotalBytes;
    const stopped: RecordingId[] = [];
    for (const active of [...this.active.values()]) {
      if (active.reason) continue;
      const over = overTotal || (l.diskQuotaPerUserBytes > 0 && (await this.diskUsage(active.info.startedBy)).user >= l.diskQuotaPerUserBytes);
      if (!over || this.active.get(active.room) !== active) continue;
      active.reason = 'diskQuota';
      this.log.warn({ event: 'recordingOverQuota', recordingId: active.info.id, userId: active.info.startedBy, serverQuota: overTotal }, 'stopping a recording: disk quota reached');
      stopped.push(active.info.id);
      await active.room.stopRecording().catch((error: unknown) => this.log.warn({ event: 'recordingStopFailed', recordingId: active.info.id, err: error }, 'could not stop a recording'));
    }
    return stopped;
  }

  private async stop(room: MediaRoom, me: UserId): Promise<{ recordingId: RecordingId }> {
    const active = this.active.get(room);
    if (!active) throw new SignalingError('INVALID_STATE', 'not being recorded');
    active.stoppedBy = me;
    await room.stopRecording();
    return { recordingId: active.info.id };
  }

  /** The media room finished a recording (stop request, end of the call, failure). */
  private async finish(room: MediaRoom, result: RoomRecordingResult): Promise<void> {
    const active = this.active.get(room);
    if (!active) return;
    this.active.delete(room);
    const participants = new Set([...active.info.participants, ...this.currentParticipants(active)]);
    const info: RecordingInfo = {
      ...active.info,
      participants: [...participants],
      endedAt: this.now(),
      status: result.ok ? 'complete' : 'failed',
      size: await sizeOf(result.path),
      duration: await this.durationOf(result.path),
    };
    active.info = info;
    (await this.sizes()).set(info.id, { startedBy: info.startedBy, size: info.size ?? 0 });
    await this.store.save(info).catch((error: unknown) => this.log.warn({ event: 'recordingSaveFailed', recordingId: info.id, err: error }, 'recording metadata not saved'));
    this.log.info({ event: 'recordingStopped', recordingId: info.id, ...this.targetIds(active.target), userId: active.stoppedBy, ok: result.ok, size: info.size }, 'recording stopped');
    this.notify(active, false, active.stoppedBy, active.reason);
    if (this.store.uploads && (info.size ?? 0) > 0) await this.uploadFile(info);
  }

  /** Uploads a finished file; a failed upload leaves it in the folder (served from there) and says so. */
  private async uploadFile(info: RecordingInfo): Promise<void> {
    try {
      const url = await this.store.uploadFile(info);
      this.log.info({ event: 'recordingUploaded', recordingId: info.id, url, size: info.size }, 'recording uploaded');
    } catch (error) {
      this.log.warn({ event: 'recordingUploadFailed', recordingId: info.id, err: error }, 'recording not uploaded: it stays in the recordings folder');
    }
  }

  /** Deletes a recording its caller started (the file and its entry); others' are FORBIDDEN, running ones INVALID_STATE. */
  private async deleteRequest(r: RequestOf<'recordings.delete'>, ctx: RequestContext): Promise<Record<string, never>> {
    const me = ctx.link.userId;
    const info = await this.store.get(r.recordingId);
    if (!info || !mayAccess(info, me)) throw new SignalingError('NOT_FOUND', `no recording ${r.recordingId}`);
    if (info.startedBy !== me) throw new SignalingError('FORBIDDEN', 'only the person who started a recording can delete it');
    if (info.status === 'recording' || this.isActive(info.id)) throw new SignalingError('INVALID_STATE', 'the recording is still running; stop it first');
    await this.remove(info.id);
    this.log.info({ event: 'recordingDeleted', recordingId: info.id, userId: me }, 'recording deleted');
    return {};
  }

  private async remove(id: RecordingId): Promise<void> {
    await this.store.delete(id);
    (await this.sizes()).delete(id);
  }

  private isActive(id: RecordingId): boolean {
    for (const active of this.active.values()) if (active.info.id === id) return true;
    return false;
  }

  private sizes(): Promise<Map<RecordingId, { startedBy: UserId; size: number }>> {
    this.finishedSizes ??= this.store.all().then((all) => {
      const map = new Map<RecordingId, { startedBy: UserId; size: number }>();
      for (const info of all) if (info.status !== 'recording') map.set(info.id, { startedBy: info.startedBy, size: info.size ?? 0 });
      return map;
    });
    return this.finishedSizes;
  }

  private async list(me: UserId): Promise<RecordingInfo[]> {
    return (await this.store.all()).filter((r) => mayAccess(r, me));
  }

  private async link(r: RequestOf<'recordings.link'>, ctx: RequestContext): Promise<{ url: string; expiresAt: number }> {
    const info = await this.store.get(r.recordingId);
    if (!info || !mayAccess(info, ctx.link.userId)) throw new SignalingError('NOT_FOUND', `no recording ${r.recordingId}`);
    const expiresAt = Date.now() + (this.options.linkTtlMs ?? 5 * 60_000);
    return { url: `${info.downloadPath}?expires=${expiresAt}&sig=${this.sign(info.id, expiresAt)}`, expiresAt };
  }

  // --- helpers --------------------------------------------------------------------

  /** The file's own length (ffprobe), which the recordings list shows; null when it cannot be read. */
  private async durationOf(path: string): Promise<number | null> {
    if ((await sizeOf(path)) === null) return null;
    try {
      const seconds = (await probeMedia(path, { timeoutMs: 30_000 })).duration;
      return seconds === undefined ? null : Math.round(seconds * 1000) / 1000;
    } catch (error) {
      this.log.warn({ event: 'recordingProbeFailed', path, err: error }, 'could not read the duration of a recording');
      return null;
    }
  }

  private currentParticipants(active: Active): UserId[] {
    if (active.target.kind === 'call') return [...(this.options.calls.find(active.target.id)?.participants.keys() ?? [])];
    return [...(this.options.rooms.find(active.target.name)?.members.keys() ?? [])];
  }

  /** Tells everyone in the call or room (and everyone recorded, once it is over). */
  private notify(active: Active, recording: boolean, by: UserId | null, reason?: 'diskQuota'): void {
    const users = new Set([...this.currentParticipants(active), ...(recording ? [] : active.info.participants)]);
    const n = this.notification(active, recording, by, reason);
    for (const user of users) this.options.router.sendToUser(user, n);
  }

  private notification(active: Active, recording: boolean, by: UserId | null, reason?: 'diskQuota'): ServerNotification {
    const why = reason ? { reason } : {};
    return active.target.kind === 'call'
      ? { type: 'call.recording', callId: active.target.id, recording, by, recordingId: active.info.id, sentAt: Date.now(), ...why }
      : { type: 'room.recording', room: active.target.name, recording, by, recordingId: active.info.id, sentAt: Date.now(), ...why };
  }

  private targetIds(target: Active['target']): Record<string, string> {
    return target.kind === 'call' ? { callId: target.id } : { room: target.name };
  }

  private sign(id: RecordingId, expiresAt: number): string {
    return createHmac('sha256', this.secret).update(`${id}.${expiresAt}`).digest('base64url');
  }

  /** True/false for a user allowed or not; 'anonymous' without credentials. */
  private async httpUser(request: IncomingMessage, url: URL, info: RecordingInfo): Promise<boolean | 'anonymous'> {
    const sig = url.searchParams.get('sig');
    const expires = Number(url.searchParams.get('expires'));
    if (sig !== null) {
      if (!(expires > Date.now())) return false;
      const want = Buffer.from(this.sign(info.id, expires));
      const got = Buffer.from(sig);
      return want.length === got.length && timingSafeEqual(want, got);
    }
    const header = request.headers.authorization ?? '';
    const token = /^Bearer (.+)$/i.exec(header)?.[1];
    if (!token) return 'anonymous';
    try {
      const session = await this.options.auth.authenticate(token.trim());
      return mayAccess(info, session.userId);
    } catch {
      return 'anonymous';
    }
  }

  private async sendFile(request: IncomingMessage, response: ServerResponse, info: RecordingInfo): Promise<void> {
    const path = this.store.filePath(info.id);
    const size = await sizeOf(path);
    if (size === null) {
      const url = await this.store.fileUrl(info.id);
      if (url) await this.sendUploaded(request, response, info, url);
      else reply(response, 404, 'the recording file is missing');
      return;
    }
    const headers: Record<string, string | number> = {
      'Content-Type': info.mimeType,
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'private, no-store',
      'Content-Disposition': `attachment; filename="recording-${info.id}.webm"`,
    };
    // One byte range (players seek with them); anything else gets the whole file.
    const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range && (range[1] !== '' || range[2] !== '')) {
      start = range[1] === '' ? Math.max(0, size - Number(range[2])) : Number(range[1]);
      end = range[1] !== '' && range[2] !== '' ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start > end || start >= size) {
        response.writeHead(416, { 'Content-Range': `bytes */${size}` });
        response.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['Content-Length'] = end - start + 1;
    response.writeHead(status, headers);
    if (request.method === 'HEAD' || size === 0) {
      response.end();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream(path, { start, end });
      stream.on('error', reject);
      response.on('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(response);
    });
  }

  /** An uploaded file: fetched from the upload store (with the client's range) and passed on. */
  private async sendUploaded(request: IncomingMessage, response: ServerResponse, info: RecordingInfo, url: string): Promise<void> {
    const upstream = await this.store.fetchUploaded(url, request.headers.range);
    if (!upstream.ok || !upstream.body) {
      await upstream.body?.cancel();
      reply(response, upstream.status === 416 ? 416 : 502, `the recording's uploaded file could not be read (${upstream.status})`);
      return;
    }
    const headers: Record<string, string> = {
      'Content-Type': info.mimeType,
      'Cache-Control': 'private, no-store',
      'Content-Disposition': `attachment; filename="recording-${info.id}.webm"`,
    };
    for (const name of UPLOADED_HEADERS) {
      const value = upstream.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    response.writeHead(upstream.status === 206 ? 206 : 200, headers);
    if (request.method === 'HEAD') {
      await upstream.body.cancel();
      response.end();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const stream = Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream<Uint8Array>);
      stream.on('error', reject);
      response.on('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(response);
    });
  }
}

/** Headers passed on from the upload store's answer to a download. */
const UPLOADED_HEADERS = ['content-length', 'content-range', 'accept-ranges'] as const;

function mayAccess(info: RecordingInfo, user: UserId): boolean {
  return info.startedBy === user || info.participants.includes(user);
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

function reply(response: ServerResponse, status: number, text: string): true {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
  return true;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
