import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallId, RecordingId, RecordingInfo, RequestOf, RoomName, ServerNotification, UserId } from '@roundtable/protocol';
import { silentLogger, type Logger } from '../logger.js';
import type { MediaRoom, RoomRecordingResult } from '../media/MediaServer.js';
import { SignalingError, type HandlerTable, type RequestContext } from '../net/Handlers.js';
import type { Router } from '../net/Router.js';
import { RecordingStore } from './RecordingStore.js';

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
  /** Lifetime of links from `recordings.link` (ms). Default 5 minutes. */
  linkTtlMs?: number;
  /** Key of the signed links. Default: random per process (links die with a restart). */
  linkSecret?: Buffer;
  logger?: Logger;
}

interface Active {
  info: RecordingInfo;
  target: { kind: 'call'; id: CallId } | { kind: 'room'; name: RoomName };
  room: MediaRoom;
  stoppedBy: UserId | null;
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

  constructor(private readonly options: RecordingServiceOptions) {
    this.store = new RecordingStore(options.directory);
    this.secret = options.linkSecret ?? randomBytes(32);
    this.log = options.logger ?? silentLogger;
  }

  /** Marks recordings left 'recording' by a previous process (it stopped without finishing them) as failed. */
  async recover(): Promise<void> {
    for (const info of await this.store.all()) {
      if (info.status !== 'recording') continue;
      await this.store.save({ ...info, status: 'failed', endedAt: info.endedAt ?? Date.now(), size: await sizeOf(this.store.filePath(info.id)) });
    }
  }

  handlers(): HandlerTable {
    return {
      'call.record': (r, ctx) => this.callRecord(r, ctx),
      'room.record': (r, ctx) => this.roomRecord(r, ctx),
      'recordings.list': (_r, ctx) => this.list(ctx.link.userId),
      'recordings.link': (r, ctx) => this.link(r, ctx),
    };
  }

  get recordingCount(): number {
    return this.active.size;
  }

  /** Stops every recording (server shutdown), finishing the files. */
  async close(): Promise<void> {
    for (const room of [...this.active.keys()]) await room.stopRecording().catch(() => undefined);
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
    const id = randomUUID() as RecordingId;
    const info: RecordingInfo = {
      id,
      callId: target.kind === 'call' ? target.id : null,
      room: target.kind === 'room' ? target.name : null,
      startedBy: me,
      participants,
      startedAt: Date.now(),
      endedAt: null,
      status: 'recording',
      size: null,
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
    return { recordingId: id };
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
      endedAt: Date.now(),
      status: result.ok ? 'complete' : 'failed',
      size: await sizeOf(result.path),
    };
    active.info = info;
    await this.store.save(info).catch((error: unknown) => this.log.warn({ event: 'recordingSaveFailed', recordingId: info.id, err: error }, 'recording metadata not saved'));
    this.log.info({ event: 'recordingStopped', recordingId: info.id, ...this.targetIds(active.target), userId: active.stoppedBy, ok: result.ok, size: info.size }, 'recording stopped');
    this.notify(active, false, active.stoppedBy);
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

  private currentParticipants(active: Active): UserId[] {
    if (active.target.kind === 'call') return [...(this.options.calls.find(active.target.id)?.participants.keys() ?? [])];
    return [...(this.options.rooms.find(active.target.name)?.members.keys() ?? [])];
  }

  /** Tells everyone in the call or room (and everyone recorded, once it is over). */
  private notify(active: Active, recording: boolean, by: UserId | null): void {
    const users = new Set([...this.currentParticipants(active), ...(recording ? [] : active.info.participants)]);
    const n: ServerNotification =
      active.target.kind === 'call'
        ? { type: 'call.recording', callId: active.target.id, recording, by, recordingId: active.info.id, sentAt: Date.now() }
        : { type: 'room.recording', room: active.target.name, recording, by, recordingId: active.info.id, sentAt: Date.now() };
    for (const user of users) this.options.router.sendToUser(user, n);
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
      reply(response, 404, 'the recording file is missing');
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
}

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
