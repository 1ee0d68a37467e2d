import { SignalingError } from '../../net/Handlers.js';
import type { InProcessMediaServer } from '../InProcessMediaServer.js';
import type { MediaRoom } from '../MediaServer.js';
import { ROOM_API_VERSION, roomCallSchemas, serializeError, type RoomEvent, type RoomId, type RoomMethod, type RoomParamsOf, type RoomReply, type RoomResultOf } from './roomCalls.js';

type Handlers = { [M in RoomMethod]: (params: RoomParamsOf<M>) => Promise<RoomResultOf<M>> };

/**
 * The far end of RoomProxy: rooms of this process's engine (an InProcessMediaServer, the
 * one room implementation) driven by calls from elsewhere, their events sent back. A
 * media worker has one, for the main thread; a media node one per Kurento session (each
 * signaling node's), so that one session's room ids never name another's rooms.
 */
export class RoomHost {
  private readonly rooms = new Map<RoomId, MediaRoom>();
  /** Ids whose room is being made (calls run concurrently: the same id twice must not make two). */
  private readonly creating = new Set<RoomId>();
  private closed = false;

  private readonly handlers: Handlers = {
    hello: async () => ({ version: ROOM_API_VERSION }),
    createRoom: async ({ roomId, label, options }) => {
      if (this.rooms.has(roomId) || this.creating.has(roomId)) throw new SignalingError('INVALID_STATE', `room ${roomId} exists on ${this.where}`);
      if (this.rooms.size + this.creating.size >= this.maxRooms) throw new SignalingError('QUOTA_EXCEEDED', `${this.where} holds ${this.maxRooms} rooms, its most`);
      this.creating.add(roomId);
      let created: MediaRoom;
      try {
        created = await this.server.createRoom(label, options);
      } finally {
        this.creating.delete(roomId);
      }
      if (this.closed) {
        await created.close();
        throw new SignalingError('INVALID_STATE', `${this.where} is closing`);
      }
      this.rooms.set(roomId, created);
      created.onCandidate((candidate) => this.emit({ type: 'candidate', roomId, candidate }));
      created.onOffer((offer) => this.emit({ type: 'offer', roomId, offer }));
      created.onSpeakers((speakers) => this.emit({ type: 'speakers', roomId, speakers }));
      created.onLayers((layers) => this.emit({ type: 'layers', roomId, layers }));
      created.onRecordingEnded((result) => this.emit({ type: 'recordingEnded', roomId, result }));
      return null;
    },
    join: async ({ roomId, participant }) => {
      await this.room(roomId).join(participant);
      return null;
    },
    receiveVideoFrom: ({ roomId, participant, sender, sdpOffer, options }) => this.room(roomId).receiveVideoFrom(participant, sender, sdpOffer, options),
    publish: ({ roomId, participant, sdpOffer, renew }) => this.room(roomId).publish(participant, sdpOffer, { renew }),
    subscribeAnswer: async ({ roomId, participant, sdpAnswer }) => {
      await this.room(roomId).subscribeAnswer(participant, sdpAnswer);
      return null;
    },
    requestVideo: async ({ roomId, participant, publisher, request }) => {
      await this.room(roomId).requestVideo(participant, publisher, request);
      return null;
    },
    restartReceiving: async ({ roomId, participant }) => {
      await this.room(roomId).restartReceiving(participant);
      return null;
    },
    repeatOffer: async ({ roomId, participant }) => {
      await this.room(roomId).repeatOffer(participant);
      return null;
    },
    connectionCount: ({ roomId }) => this.room(roomId).connectionCount(),
    addIceCandidate: async ({ roomId, participant, sender, candidate }) => {
      await this.room(roomId).addIceCandidate(participant, sender, candidate);
      return null;
    },
    leave: async ({ roomId, participant }) => {
      await this.rooms.get(roomId)?.leave(participant);
      return null;
    },
    participants: async ({ roomId }) => this.room(roomId).participants(),
    startRecording: async ({ roomId, options }) => {
      await this.room(roomId).startRecording(options);
      return null;
    },
    stopRecording: async ({ roomId }) => (await this.rooms.get(roomId)?.stopRecording()) ?? null,
    close: async ({ roomId }) => {
      const closing = this.rooms.get(roomId);
      this.rooms.delete(roomId);
      await closing?.close();
      return null;
    },
  };

  /**
   * @param server the rooms' engine (shared by the hosts of one process)
   * @param emit where the rooms' events go
   * @param where names this host in errors ("media worker 1", "media node session ...")
   * @param maxRooms rooms it holds at most; more are QUOTA_EXCEEDED (default: no bound)
   */
  constructor(
    private readonly server: InProcessMediaServer,
    private readonly emit: (event: RoomEvent) => void,
    private readonly where: string,
    private readonly maxRooms = Number.POSITIVE_INFINITY,
  ) {}

  get roomCount(): number {
    return this.rooms.size;
  }

  get participantCount(): number {
    let n = 0;
    for (const room of this.rooms.values()) n += room.participants().length;
    return n;
  }

  /** Runs one call; a bad method or parameters reject with BAD_REQUEST and change nothing. */
  call(method: string, params: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new SignalingError('INVALID_STATE', `${this.where} is closed`));
    if (!Object.hasOwn(roomCallSchemas, method)) return Promise.reject(new SignalingError('BAD_REQUEST', `unknown room call '${method.slice(0, 64)}'`));
    const schema = roomCallSchemas[method as RoomMethod];
    const checked = schema.safeParse(params);
    if (!checked.success) return Promise.reject(new SignalingError('BAD_REQUEST', `bad parameters of ${method}: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`));
    const handler = this.handlers[method as RoomMethod] as (params: unknown) => Promise<unknown>;
    return handler(checked.data);
  }

  /** call(), its outcome as data (what crosses a process boundary). */
  async reply(method: string, params: unknown): Promise<RoomReply> {
    try {
      return { ok: true, result: await this.call(method, params) };
    } catch (error) {
      return { ok: false, error: serializeError(error) };
    }
  }

  /** Closes every room of this host (a recording is finished first). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const rooms = [...this.rooms.values()];
    this.rooms.clear();
    await Promise.all(rooms.map((room) => room.close()));
  }

  private room(roomId: RoomId): MediaRoom {
    const found = this.rooms.get(roomId);
    if (!found) throw new SignalingError('INVALID_STATE', `room ${roomId} is not on ${this.where}`);
    return found;
  }
}
