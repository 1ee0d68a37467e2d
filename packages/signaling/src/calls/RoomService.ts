import type { RequestOf, RoomName, ServerSignalPayload, UserId } from '@roundtable/protocol';
import type { Cluster } from '../cluster/Cluster.js';
import type { MediaRoom, MediaServer } from '../media/MediaServer.js';
import { SignalingError, type HandlerTable, type RequestContext } from '../net/Handlers.js';
import type { DeviceLink, Router } from '../net/Router.js';
import { silentLogger, type Logger } from '../logger.js';
import { PeerStates } from './PeerStates.js';

export interface OpenRoom {
  name: RoomName;
  media: MediaRoom;
  members: Map<UserId, DeviceLink>;
  /** What each member announced of their mute, camera and hand (`room.state`). */
  peerStates: PeerStates;
}

/** At most this many people in an open room (the same cap as calls). */
export const MAX_ROOM_MEMBERS = 9;

/** Open rooms one user may be in at once, by default. */
export const DEFAULT_MAX_ROOMS_PER_USER = 4;

export interface RoomServiceOptions {
  /** People per room. Default 9 (`MAX_ROOM_MEMBERS`). */
  maxMembers?: number;
  /** Open rooms one user may be in at once (a further join: QUOTA_EXCEEDED). Default 4. */
  maxRoomsPerUser?: number;
  /** Default: silent. */
  logger?: Logger;
  /**
   * The signaling nodes this one shares users with: a room opened here is owned here, and
   * the rooms a user is in on other nodes count toward `maxRoomsPerUser`. Default: none.
   */
  cluster?: RoomCluster;
}

/** What rooms need of the cluster (docs/architecture.md, "Cluster"). */
export type RoomCluster = Pick<Cluster, 'shared' | 'nodeId' | 'claim' | 'release' | 'setInRoom' | 'clearInRoom' | 'roomsElsewhere'>;

const NO_CLUSTER: RoomCluster = {
  shared: false,
  nodeId: 'local',
  claim: async () => 'local',
  release: () => undefined,
  setInRoom: () => undefined,
  clearInRoom: () => undefined,
  roomsElsewhere: async () => [],
};

/**
 * Open meeting rooms joined by name (the Kurento group-call model): any signed-in user
 * may join; the same uplink/downlink messages as group calls.
 */
export class RoomService {
  private readonly rooms = new Map<RoomName, OpenRoom>();
  private readonly opening = new Map<RoomName, Promise<OpenRoom>>();
  private readonly maxMembers: number;
  private readonly maxRoomsPerUser: number;
  /** Joins in progress per user, counted against the quota until they end. */
  private readonly joining = new Map<UserId, number>();
  private readonly log: Logger;
  private readonly joinedListeners: Array<(room: RoomName, user: UserId) => void> = [];
  private readonly cluster: RoomCluster;

  constructor(
    router: Router,
    private readonly media: MediaServer,
    options: RoomServiceOptions = {},
  ) {
    this.maxMembers = options.maxMembers ?? MAX_ROOM_MEMBERS;
    this.maxRoomsPerUser = options.maxRoomsPerUser ?? DEFAULT_MAX_ROOMS_PER_USER;
    if (!(this.maxRoomsPerUser >= 1)) throw new RangeError('maxRoomsPerUser must be at least 1');
    this.log = options.logger ?? silentLogger;
    this.cluster = options.cluster ?? NO_CLUSTER;
    router.onDeviceGone((link) => {
      for (const room of this.rooms.values()) if (room.members.get(link.userId) === link) void this.leave(room, link.userId);
    });
  }

  /** Told when someone joins a room: e.g. to tell them it is being recorded. */
  onJoined(listener: (room: RoomName, user: UserId) => void): void {
    this.joinedListeners.push(listener);
  }

  /** The open room of this name, if anyone is in it (for recording). */
  find(name: RoomName): OpenRoom | undefined {
    return this.rooms.get(name);
  }

  handlers(): HandlerTable {
    return {
      'room.join': (r, ctx) => (this.cluster.shared ? this.joinOrRelease(r, ctx) : this.join(r, ctx)),
      'room.signal': (r, ctx) => this.signal(r, ctx),
      'room.leave': (r, ctx) => this.leaveRequest(r, ctx),
      'room.state': (r, ctx) => this.peerState(r, ctx),
      'room.react': (r, ctx) => this.react(r, ctx),
    };
  }

  get openRooms(): number {
    return this.rooms.size;
  }

  /** People in open rooms, over all rooms. */
  get participantCount(): number {
    let count = 0;
    for (const room of this.rooms.values()) count += room.members.size;
    return count;
  }

  async close(): Promise<void> {
    for (const room of [...this.rooms.values()]) await this.closeRoom(room);
  }

  /** The rooms `user` is in. */
  roomsOf(user: UserId): RoomName[] {
    return [...this.rooms.values()].filter((room) => room.members.has(user)).map((room) => room.name);
  }

  private async join(r: RequestOf<'room.join'>, ctx: RequestContext): Promise<unknown> {
    const me = ctx.link.userId;
    // Checked before the room is opened: a refused join leaves no media room behind.
    const elsewhere = this.cluster.shared ? await this.cluster.roomsElsewhere(me) : [];
    const inRooms = [...new Set([...this.roomsOf(me), ...(elsewhere as RoomName[])])];
    const pending = this.joining.get(me) ?? 0;
    if (!inRooms.includes(r.room) && inRooms.length + pending >= this.maxRoomsPerUser) {
      throw new SignalingError('QUOTA_EXCEEDED', `you are in ${inRooms.length + pending} open rooms, the most one user may be in at once (${this.maxRoomsPerUser}); leave one first`);
    }
    this.joining.set(me, pending + 1);
    try {
      return await this.joinRoom(r, ctx);
    } finally {
      const left = (this.joining.get(me) ?? 1) - 1;
      if (left > 0) this.joining.set(me, left);
      else this.joining.delete(me);
    }
  }

  /** A join that opened nothing (refused, failed) leaves no claim on the room's name. */
  private async joinOrRelease(r: RequestOf<'room.join'>, ctx: RequestContext): Promise<unknown> {
    try {
      return await this.join(r, ctx);
    } finally {
      if (!this.rooms.has(r.room) && !this.opening.has(r.room)) this.cluster.release('room', r.room);
    }
  }

  private async joinRoom(r: RequestOf<'room.join'>, ctx: RequestContext): Promise<unknown> {
    const me = ctx.link.userId;
    let room = await this.open(r.room);
    const current = room.members.get(me);
    if (current === ctx.link) throw new SignalingError('INVALID_STATE', `you are already in room ${r.room}`);
    if (current) {
      // The same user from another socket: a reconnect that came back before the server saw
      // the old socket go. The new one takes the place (the others see a leave and a join).
      await this.leave(room, me);
      room = await this.open(r.room);
    }
    if (room.members.size >= this.maxMembers) throw new SignalingError('CALL_FULL', `room ${r.room} is full (${this.maxMembers})`);
    const others = [...room.members.keys()];
    room.members.set(me, ctx.link);
    this.cluster.setInRoom(me, room.name);
    await room.media.join(me);
    this.send(room, ctx.link, { type: 'existingParticipants', data: others });
    for (const u of others) this.send(room, room.members.get(u)!, { type: 'newParticipantArrived', name: me });
    room.peerStates.forget(me);
    for (const [userId, state] of room.peerStates.announced(me)) ctx.link.send({ type: 'room.participantState', room: room.name, userId, state });
    for (const listener of this.joinedListeners) listener(room.name, me);
    this.log.info({ event: 'roomJoined', room: room.name, userId: me, deviceId: ctx.link.deviceId, members: room.members.size }, 'joined a room');
    return { room: r.room, participants: others };
  }

  private async signal(r: RequestOf<'room.signal'>, ctx: RequestContext): Promise<unknown> {
    const room = this.rooms.get(r.room);
    const me = ctx.link.userId;
    if (!room || !room.members.has(me)) throw new SignalingError('FORBIDDEN', `you are not in room ${r.room}`);
    room.members.set(me, ctx.link);
    const p = r.payload;
    switch (p.type) {
      case 'receiveVideoFrom': {
        if (!room.members.has(p.sender)) throw new SignalingError('NOT_FOUND', `${p.sender} is not in room ${r.room}`);
        const sdpAnswer = await room.media.receiveVideoFrom(me, p.sender, p.sdpOffer);
        this.send(room, ctx.link, { type: 'receiveVideoAnswer', name: p.sender, sdpAnswer });
        return {};
      }
      case 'onIceCandidate':
        await room.media.addIceCandidate(me, p.name, p.candidate);
        return {};
      case 'leaveRoom':
        await this.leave(room, me);
        return {};
      default:
        throw new SignalingError('BAD_REQUEST', `'${p.type}' is not a room message`);
    }
  }

  /** A member's mute / camera / hand changed: the others are told (and later joiners when they join). */
  private async peerState(r: RequestOf<'room.state'>, ctx: RequestContext): Promise<unknown> {
    const room = this.memberRoom(r.room, ctx);
    const me = ctx.link.userId;
    const state = room.peerStates.apply(me, r);
    for (const [user, link] of room.members) if (user !== me) link.send({ type: 'room.participantState', room: room.name, userId: me, state });
    return { state };
  }

  /** A reaction goes to every member, the sender included. */
  private async react(r: RequestOf<'room.react'>, ctx: RequestContext): Promise<unknown> {
    const room = this.memberRoom(r.room, ctx);
    for (const link of room.members.values()) link.send({ type: 'room.reaction', room: room.name, from: ctx.link.userId, reaction: r.reaction });
    return {};
  }

  private memberRoom(name: RoomName, ctx: RequestContext): OpenRoom {
    const room = this.rooms.get(name);
    if (!room || !room.members.has(ctx.link.userId)) throw new SignalingError('FORBIDDEN', `you are not in room ${name}`);
    return room;
  }

  private async leaveRequest(r: RequestOf<'room.leave'>, ctx: RequestContext): Promise<unknown> {
    const room = this.rooms.get(r.room);
    if (!room || !room.members.has(ctx.link.userId)) throw new SignalingError('FORBIDDEN', `you are not in room ${r.room}`);
    await this.leave(room, ctx.link.userId);
    return {};
  }

  private async open(name: RoomName): Promise<OpenRoom> {
    const existing = this.rooms.get(name);
    if (existing) return existing;
    let pending = this.opening.get(name);
    if (!pending) {
      pending = (async () => {
        // Usually claimed already, by the join that got here; a room that closed meanwhile is claimed again.
        const owner = this.cluster.shared ? await this.cluster.claim('room', name) : this.cluster.nodeId;
        if (owner !== this.cluster.nodeId) throw new SignalingError('CONFLICT', `room ${name} is being opened on another server; join again`);
        const media = await this.media.createRoom(`room ${name}`);
        const room: OpenRoom = { name, media, members: new Map(), peerStates: new PeerStates() };
        media.onCandidate((c) => {
          const link = room.members.get(c.participant as UserId);
          if (link) this.send(room, link, { type: 'iceCandidate', name: c.sender as UserId, candidate: c.candidate });
        });
        media.onClosed((reason) => this.mediaLost(room, reason));
        this.rooms.set(name, room);
        this.log.info({ event: 'roomOpened', room: name }, 'room opened');
        return room;
      })().finally(() => this.opening.delete(name));
      this.opening.set(name, pending);
    }
    return pending;
  }

  private async leave(room: OpenRoom, user: UserId): Promise<void> {
    if (!room.members.delete(user)) return;
    this.cluster.clearInRoom(user, room.name);
    room.peerStates.forget(user);
    this.log.info({ event: 'roomLeft', room: room.name, userId: user, members: room.members.size }, 'left a room');
    await room.media.leave(user);
    for (const link of room.members.values()) this.send(room, link, { type: 'participantLeft', name: user });
    if (room.members.size === 0) await this.closeRoom(room);
  }

  /** The media server lost the room (e.g. its media worker crashed): everyone is out, and told so. */
  private mediaLost(room: OpenRoom, reason: string): void {
    if (this.rooms.get(room.name) !== room) return;
    this.rooms.delete(room.name);
    this.log.warn({ event: 'roomMediaLost', room: room.name, members: [...room.members.keys()], reason }, 'the media server lost the room');
    const links = [...room.members.values()];
    for (const user of room.members.keys()) this.cluster.clearInRoom(user, room.name);
    room.members.clear();
    this.cluster.release('room', room.name);
    for (const link of links) link.send({ type: 'room.ended', room: room.name, reason: 'mediaError' });
  }

  private async closeRoom(room: OpenRoom): Promise<void> {
    this.rooms.delete(room.name);
    for (const user of room.members.keys()) this.cluster.clearInRoom(user, room.name);
    this.cluster.release('room', room.name);
    this.log.info({ event: 'roomClosed', room: room.name }, 'room closed');
    await room.media.close();
  }

  private send(room: OpenRoom, link: DeviceLink, payload: ServerSignalPayload): void {
    link.send({ type: 'room.signal', room: room.name, payload });
  }
}
