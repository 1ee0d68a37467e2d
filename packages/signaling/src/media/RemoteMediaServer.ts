import { KurentoClient, KurentoErrorCode, isKurentoClientError } from '@roundtable/kurento/client';
import { silentLogger, type Logger } from '../logger.js';
import { SignalingError } from '../net/Handlers.js';
import { KurentoRoom } from './KurentoRoom.js';
import type { MediaRoom, MediaServer, RoomOptions } from './MediaServer.js';
import { RoomProxy } from './rooms/RoomProxy.js';
import { ROOM_CALL_METHOD, ROOM_EVENT_METHOD } from './rooms/mediaNodeMethods.js';
import { deserializeError, roomEventSchema, roomReplySchema, type RoomChannel, type RoomMethod, type RoomParamsOf, type RoomResultOf } from './rooms/roomCalls.js';

export interface RemoteMediaServerOptions {
  /** Kurento Protocol URL of the media server, e.g. ws://media-host:8888/kurento. */
  url: string;
  /** Shared secret of the media server, if it requires one. */
  accessToken?: string;
  /** Where the connection's events (disconnected, reconnected) go. Default: warnings to the console. */
  logger?: Logger;
}

/** A room of either kind this server makes. */
type RemoteRoom = RoomProxy | KurentoRoom;

/**
 * Rooms on a media server in another process, over one Kurento Protocol connection. A
 * Roundtable media node holds each room itself, on the same room code as in process (its
 * room calls, RoomHost behind them: two transports per participant); a server without
 * them (a Kurento Media Server) gets rooms of Kurento endpoints (KurentoRoom, the seed's
 * words only). Which one is found out once, at connect().
 */
export class RemoteMediaServer implements MediaServer {
  readonly kind = 'remote';
  private readonly rooms = new Set<RemoteRoom>();
  /** The rooms held by the node, by id, for its events. */
  private readonly proxies = new Map<number, RoomProxy>();
  private nextRoomId = 1;
  private readonly channel: RoomChannel;

  private constructor(
    private readonly client: KurentoClient,
    /** Whether the server holds rooms itself (a Roundtable media node). */
    readonly hostsRooms: boolean,
    private readonly log: Logger,
  ) {
    // The media server forgot our session: every pipeline and room of it is gone.
    client.on('sessionLost', (sessionId) => this.loseRooms(`the media server lost session ${sessionId}`));
    client.on('notification', (method, params) => {
      if (method !== ROOM_EVENT_METHOD) return;
      const checked = roomEventSchema.safeParse(params);
      if (!checked.success) {
        this.log.warn({ event: 'mediaNodeEventInvalid', issues: checked.error.issues.length }, 'the media node sent a room event we cannot read');
        return;
      }
      this.proxies.get(checked.data.roomId)?.event(checked.data);
    });
    this.channel = { call: (method, params) => this.call(method, params) };
  }

  /**
   * Every room of this server is gone (the server stopped, as its owner found out): their
   * onClosed listeners are told `reason`. Rooms made afterwards are not affected.
   */
  loseRooms(reason: string): void {
    const lost = [...this.rooms];
    this.rooms.clear();
    this.proxies.clear();
    for (const room of lost) room.lost(reason);
  }

  /** Whether the connection to the media server is up (false while it reconnects). */
  get connected(): boolean {
    return this.client.connected;
  }

  static async connect(options: RemoteMediaServerOptions): Promise<RemoteMediaServer> {
    const client = await KurentoClient.connect(options.url, {
      ...(options.accessToken ? { accessToken: options.accessToken } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    try {
      return new RemoteMediaServer(client, await hostsRooms(client), options.logger ?? silentLogger);
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  async createRoom(label: string, options: RoomOptions = {}): Promise<MediaRoom> {
    const audio = options.audio ?? 'forwarded';
    if (this.hostsRooms) {
      const id = this.nextRoomId++;
      const room: RoomProxy = new RoomProxy(id, label, audio, this.channel, this.log, () => this.forget(room));
      this.rooms.add(room);
      this.proxies.set(id, room);
      try {
        await this.call('createRoom', { roomId: id, label, options: { audio } });
      } catch (error) {
        this.forget(room);
        throw error;
      }
      return room;
    }
    try {
      const room: KurentoRoom = new KurentoRoom(label, audio, await this.client.createMediaPipeline(), () => this.rooms.delete(room), this.log);
      this.rooms.add(room);
      return room;
    } catch (error) {
      throw new SignalingError('MEDIA_ERROR', `media server: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Server transports and endpoints over every room (asked of the media server). */
  async connectionCount(): Promise<number> {
    let n = 0;
    for (const room of this.rooms) n += await room.connectionCount();
    return n;
  }

  async ready(): Promise<boolean> {
    return this.client.connected;
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private forget(room: RoomProxy): void {
    this.rooms.delete(room);
    if (this.proxies.get(room.id) === room) this.proxies.delete(room.id);
  }

  /** One room call on the media node: its answer, or its error as the room in this process would have thrown it. */
  private async call<M extends RoomMethod>(method: M, params: RoomParamsOf<M>): Promise<RoomResultOf<M>> {
    let raw: unknown;
    try {
      raw = await this.client.call(ROOM_CALL_METHOD, { method, params });
    } catch (error) {
      throw new SignalingError('MEDIA_ERROR', `media node: ${error instanceof Error ? error.message : String(error)}`);
    }
    const reply = roomReplySchema.safeParse(raw);
    if (!reply.success) throw new SignalingError('MEDIA_ERROR', `media node: an answer to ${method} we cannot read`);
    if (!reply.data.ok) throw deserializeError(reply.data.error);
    return reply.data.result as RoomResultOf<M>;
  }
}

/** Whether the server answers the room calls (a Roundtable media node), or only the Kurento Protocol's own methods. */
async function hostsRooms(client: KurentoClient): Promise<boolean> {
  try {
    await client.call(ROOM_CALL_METHOD, { method: 'hello', params: {} });
    return true;
  } catch (error) {
    if (isKurentoClientError(error, KurentoErrorCode.METHOD_NOT_FOUND)) return false;
    throw new SignalingError('MEDIA_ERROR', `media server: ${error instanceof Error ? error.message : String(error)}`);
  }
}
