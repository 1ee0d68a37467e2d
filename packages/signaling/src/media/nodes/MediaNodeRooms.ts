import type { ExtensionSession, KurentoExtensions } from '@roundtable/kurento';
import type { Engine, MediaConfig, MediaPipeline } from '@roundtable/media';
import { silentLogger, type Logger } from '../../logger.js';
import { InProcessMediaServer } from '../InProcessMediaServer.js';
import { ROOM_CALL_METHOD, ROOM_EVENT_METHOD } from '../rooms/mediaNodeMethods.js';
import { RoomHost } from '../rooms/RoomHost.js';
import type { RoomReply } from '../rooms/roomCalls.js';

/**
 * The rooms a media node holds for signaling nodes: this process's engine (one
 * InProcessMediaServer, the same room code as in process) behind the room calls of its
 * Kurento Protocol endpoint. Each Kurento session (a signaling node's connection) has a
 * RoomHost of its own; its rooms close when the session ends (its grace period ran out).
 */
export class MediaNodeRooms {
  private readonly server: InProcessMediaServer;
  private readonly hosts = new Map<string, RoomHost>();
  private readonly log: Logger;
  private closed = false;

  /** The methods to serve, as KurentoServerOptions.extensions. */
  readonly extensions: KurentoExtensions = {
    [ROOM_CALL_METHOD]: (session, params) => this.call(session, params),
  };

  /**
   * @param media the engine's settings
   * @param logger where failures are logged (default: nowhere)
   * @param maxRoomsPerSession rooms one session (a signaling node) may hold here at once: a
   *   client of the Kurento Protocol cannot take the node by making rooms, as its objects
   *   are bounded (kurento.maxSessionObjects). Default 1000, far above what a node carries.
   */
  constructor(
    media: Partial<MediaConfig> = {},
    logger: Logger = silentLogger,
    private readonly maxRoomsPerSession = 1000,
    /** The process's media engine (default: one of its own, closed with it). */
    engine?: Engine,
  ) {
    this.server = new InProcessMediaServer(media, logger, engine);
    this.log = logger;
  }

  /** Rooms and their participants over every session, for the node's heartbeat. */
  load(): { rooms: number; participants: number } {
    let rooms = 0;
    let participants = 0;
    for (const host of this.hosts.values()) {
      rooms += host.roomCount;
      participants += host.participantCount;
    }
    return { rooms, participants };
  }

  /** Whether `pipeline` is one of these rooms' (the rest are Kurento clients' own). */
  holds(pipeline: MediaPipeline): boolean {
    return this.server.holds(pipeline);
  }

  /** Server transports and endpoints over every room. */
  get connections(): number {
    return this.server.connections;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const hosts = [...this.hosts.values()];
    this.hosts.clear();
    await Promise.all(hosts.map((host) => host.close()));
    await this.server.close();
  }

  private async call(session: ExtensionSession, params: Record<string, unknown>): Promise<RoomReply> {
    const method = typeof params.method === 'string' ? params.method : '';
    return this.host(session).reply(method, params.params);
  }

  private host(session: ExtensionSession): RoomHost {
    let host = this.hosts.get(session.id);
    if (!host) {
      const made = new RoomHost(this.server, (event) => session.notify(ROOM_EVENT_METHOD, event), `media node session ${session.id}`, this.maxRoomsPerSession);
      host = made;
      this.hosts.set(session.id, made);
      if (this.closed) void made.close();
      session.onClose(() => {
        this.hosts.delete(session.id);
        made.close().catch((error: unknown) => this.log.warn({ event: 'mediaNodeRoomsCloseFailed', sessionId: session.id, err: error }, 'closing the rooms of an ended session failed'));
      });
    }
    return host;
  }
}
