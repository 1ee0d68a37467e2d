import { MAX_ROOM_MESSAGES, type RequestOf, type RequestType, type RoomMessage, type RoomName, type ServerNotification, type ServerSignalPayload, type UserId } from '@roundtable/protocol';
import type { Adopted, Cluster } from '../cluster/Cluster.js';
import { videoRequestOf, type MediaRoom, type MediaServer } from '../media/MediaServer.js';
import { movesLostRooms, recreateRoom } from '../media/recreateRoom.js';
import { SignalingError, type Handler, type HandlerTable, type RequestContext } from '../net/Handlers.js';
import type { DeviceLink, Router } from '../net/Router.js';
import { silentLogger, type Logger } from '../logger.js';
import { PeerStates } from './PeerStates.js';
import { parseRoom, roomFields, type SavedRoom } from './SavedState.js';

export interface OpenRoom {
  name: RoomName;
  media: MediaRoom;
  members: Map<UserId, DeviceLink>;
  /** What each member announced of their mute, camera and hand (`room.state`). */
  peerStates: PeerStates;
  /** Members whose device dropped: taken out when their timer fires, unless they join again first. */
  dropTimers: Map<UserId, NodeJS.Timeout>;
  /** The room's own chat, the newest `MAX_ROOM_MESSAGES` (rooms have no conversation); gone with the room. */
  messages: RoomMessage[];
  /** The seq of the room's last chat message. */
  lastSeq: number;
  /** Set while the room's media is being re-created on another media node. */
  moving?: Promise<void> | undefined;
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
  /** A member whose device dropped is taken out after this unless they join again (ms). Default 15000, as for calls. */
  disconnectGraceMs?: number;
  /** Default: silent. */
  logger?: Logger;
  /**
   * The signaling nodes this one shares users with: a room opened here is owned here, and
   * the rooms a user is in on other nodes count toward `maxRoomsPerUser`. Default: none.
   */
  cluster?: RoomCluster;
}

/** What rooms need of the cluster (docs/architecture.md, "Cluster"). */
export type RoomCluster = Pick<
  Cluster,
  'shared' | 'nodeId' | 'claim' | 'own' | 'release' | 'setInRoom' | 'clearInRoom' | 'roomsElsewhere' | 'saveState' | 'deviceRef' | 'linkOf' | 'onAdopted' | 'onDisowned'
>;

const NO_CLUSTER: RoomCluster = {
  shared: false,
  nodeId: 'local',
  claim: async () => 'local',
  own: () => undefined,
  release: () => undefined,
  saveState: () => undefined,
  deviceRef: () => undefined,
  linkOf: () => {
    throw new Error('no cluster');
  },
  onAdopted: () => () => undefined,
  onDisowned: () => () => undefined,
  setInRoom: () => undefined,
  clearInRoom: () => undefined,
  roomsElsewhere: async () => [],
};

/**
 * Open meeting rooms joined by name (the Kurento group-call model): any signed-in user
 * may join; the same uplink/downlink messages as group calls. A member whose device
 * drops stays for a grace period (the others see them reconnecting); joining again in
 * that time takes their place back with fresh media, without a leave and a join.
 */
export class RoomService {
  private readonly rooms = new Map<RoomName, OpenRoom>();
  private readonly opening = new Map<RoomName, Promise<OpenRoom>>();
  private readonly maxMembers: number;
  private readonly maxRoomsPerUser: number;
  private readonly graceMs: number;
  /** Joins in progress per user, counted against the quota until they end. */
  private readonly joining = new Map<UserId, number>();
  private readonly log: Logger;
  private readonly joinedListeners: Array<(room: RoomName, user: UserId) => void> = [];
  private readonly cluster: RoomCluster;
  /** Rooms changed since their state was last saved in the cluster (saved once per turn of the event loop). */
  private readonly unsaved = new Set<OpenRoom>();

  constructor(
    router: Router,
    private readonly media: MediaServer,
    options: RoomServiceOptions = {},
  ) {
    this.maxMembers = options.maxMembers ?? MAX_ROOM_MEMBERS;
    this.maxRoomsPerUser = options.maxRoomsPerUser ?? DEFAULT_MAX_ROOMS_PER_USER;
    this.graceMs = options.disconnectGraceMs ?? 15_000;
    if (!(this.maxRoomsPerUser >= 1)) throw new RangeError('maxRoomsPerUser must be at least 1');
    this.log = options.logger ?? silentLogger;
    this.cluster = options.cluster ?? NO_CLUSTER;
    router.onDeviceGone((link) => {
      for (const room of this.rooms.values()) if (room.members.get(link.userId) === link) this.dropped(room, link);
    });
    this.cluster.onAdopted((adopted) => {
      if (adopted.kind === 'room') this.adopt(adopted);
    });
    this.cluster.onDisowned((kind, key) => {
      if (kind === 'room') void this.disown(key as RoomName);
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
      'room.join': this.saving((r, ctx) => (this.cluster.shared ? this.joinOrRelease(r, ctx) : this.join(r, ctx))),
      // Signals change the room only through adoptDevice and leave, which save it.
      'room.signal': (r, ctx) => this.signal(r, ctx),
      'room.leave': this.saving((r, ctx) => this.leaveRequest(r, ctx)),
      'room.state': this.saving((r, ctx) => this.peerState(r, ctx)),
      'room.react': (r, ctx) => this.react(r, ctx),
      'room.message': this.saving((r, ctx) => this.message(r, ctx)),
    };
  }

  /** A handler whose room is saved in the cluster once it ran, whatever came of it. */
  private saving<T extends RequestType>(handler: Handler<T>): Handler<T> {
    return async (r, ctx) => {
      try {
        return await handler(r, ctx);
      } finally {
        const room = 'room' in r && typeof r.room === 'string' ? this.rooms.get(r.room as RoomName) : undefined;
        if (room) this.save(room);
      }
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
    const room = await this.open(r.room);
    // A room moving to another media node takes its joiners on the new one.
    await room.moving;
    const current = room.members.get(me);
    if (current === ctx.link) throw new SignalingError('INVALID_STATE', `you are already in room ${r.room}`);
    // The same user from another socket: a reconnect or a reloaded page (the old socket gone,
    // or not yet seen as gone), or another device. It takes the place back.
    if (current) return this.rejoin(room, current, ctx);
    if (room.members.size >= this.maxMembers) throw new SignalingError('CALL_FULL', `room ${r.room} is full (${this.maxMembers})`);
    room.members.set(me, ctx.link);
    this.cluster.setInRoom(me, room.name);
    await room.media.join(me);
    // Others may have left while the media room took this user in (or this user's own
    // socket may have gone): who is in the room is read again after the wait.
    if (room.members.get(me) !== ctx.link) throw new SignalingError('INVALID_STATE', `you left room ${r.room} while joining it`);
    const others = [...room.members.keys()].filter((u) => u !== me);
    this.send(room, ctx.link, { type: 'existingParticipants', data: others, bundled: room.media.bundled });
    for (const u of others) this.send(room, room.members.get(u)!, { type: 'newParticipantArrived', name: me });
    room.peerStates.forget(me);
    for (const [userId, state] of room.peerStates.announced(me)) ctx.link.send({ type: 'room.participantState', room: room.name, userId, state });
    for (const listener of this.joinedListeners) listener(room.name, me);
    this.log.info({ event: 'roomJoined', room: room.name, userId: me, deviceId: ctx.link.deviceId, members: room.members.size }, 'joined a room');
    return { room: r.room, participants: others, messages: [...room.messages] };
  }

  /**
   * A member joins again from another socket. Their media endpoints are made anew (the old
   * ones belong to a peer connection that is gone); the others are told they arrived again
   * (newParticipantArrived: a new downlink) and, if they were reconnecting, that they are
   * back. Nobody sees them leave. Their announced state stays until they announce again.
   */
  private async rejoin(room: OpenRoom, old: DeviceLink, ctx: RequestContext): Promise<unknown> {
    const me = ctx.link.userId;
    const timer = room.dropTimers.get(me);
    clearTimeout(timer);
    room.dropTimers.delete(me);
    room.members.set(me, ctx.link);
    // Another device of the user still in the room: it is out of it now.
    if (!timer) old.send({ type: 'room.ended', room: room.name, reason: 'acceptByOtherClient' });
    await room.media.leave(me);
    await room.media.join(me);
    const others = [...room.members.keys()].filter((u) => u !== me);
    this.send(room, ctx.link, { type: 'existingParticipants', data: others, bundled: room.media.bundled });
    for (const u of others) {
      const link = room.members.get(u)!;
      this.send(room, link, { type: 'newParticipantArrived', name: me });
      if (timer) link.send({ type: 'room.participant', room: room.name, userId: me, connection: 'connected' });
    }
    for (const [userId, state] of room.peerStates.announced(me)) ctx.link.send({ type: 'room.participantState', room: room.name, userId, state });
    for (const listener of this.joinedListeners) listener(room.name, me);
    this.log.info({ event: 'roomRejoined', room: room.name, userId: me, deviceId: ctx.link.deviceId, wasDropped: timer !== undefined }, 'joined a room again');
    return { room: room.name, participants: others, messages: [...room.messages] };
  }

  /** A member's device dropped: the others see them reconnecting; they are out when the grace period ends. */
  private dropped(room: OpenRoom, link: DeviceLink): void {
    const user = link.userId;
    if (room.dropTimers.has(user)) return;
    const timer = setTimeout(() => {
      room.dropTimers.delete(user);
      if (room.members.get(user) === link) void this.leave(room, user, true);
    }, this.graceMs);
    timer.unref();
    room.dropTimers.set(user, timer);
    this.log.info({ event: 'roomMemberDropped', room: room.name, userId: user, deviceId: link.deviceId, graceMs: this.graceMs }, 'a room member\'s device dropped');
    this.notify(room, { type: 'room.participant', room: room.name, userId: user, connection: 'reconnecting' }, user);
    const quiet = room.peerStates.silence(user);
    if (quiet) this.notify(room, { type: 'room.participantState', room: room.name, userId: user, state: quiet }, user);
  }

  private async signal(r: RequestOf<'room.signal'>, ctx: RequestContext): Promise<unknown> {
    const room = this.memberRoom(r.room, ctx);
    const me = ctx.link.userId;
    this.adoptDevice(room, ctx.link);
    const p = r.payload;
    switch (p.type) {
      case 'receiveVideoFrom': {
        if (!room.members.has(p.sender)) throw new SignalingError('NOT_FOUND', `${p.sender} is not in room ${r.room}`);
        const sdpAnswer = await room.media.receiveVideoFrom(me, p.sender, p.sdpOffer);
        this.send(room, ctx.link, { type: 'receiveVideoAnswer', name: p.sender, sdpAnswer });
        return {};
      }
      case 'publish': {
        const sdpAnswer = await room.media.publish(me, p.sdpOffer, { renew: p.renew === true });
        this.send(room, ctx.link, { type: 'publishAnswer', sdpAnswer });
        return {};
      }
      case 'subscribeAnswer':
        await room.media.subscribeAnswer(me, p.sdpAnswer);
        return {};
      case 'subscribeRestart':
        await room.media.restartReceiving(me);
        return {};
      case 'subscribeQuality':
        if (!room.members.has(p.participant)) throw new SignalingError('NOT_FOUND', `${p.participant} is not in room ${r.room}`);
        await room.media.requestVideo(me, p.participant, videoRequestOf(p.quality));
        return {};
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
    this.notify(room, { type: 'room.participantState', room: room.name, userId: me, state }, me);
    return { state };
  }

  /** A chat message goes to every member, the sender included, and is kept for those who join later. */
  private async message(r: RequestOf<'room.message'>, ctx: RequestContext): Promise<unknown> {
    const room = this.memberRoom(r.room, ctx);
    const message: RoomMessage = { seq: ++room.lastSeq, senderId: ctx.link.userId, text: r.text, sentAt: Date.now() };
    room.messages.push(message);
    if (room.messages.length > MAX_ROOM_MESSAGES) room.messages.splice(0, room.messages.length - MAX_ROOM_MESSAGES);
    this.notify(room, { type: 'room.message', room: room.name, message });
    return message;
  }

  /** A reaction goes to every member, the sender included. */
  private async react(r: RequestOf<'room.react'>, ctx: RequestContext): Promise<unknown> {
    const room = this.memberRoom(r.room, ctx);
    this.notify(room, { type: 'room.reaction', room: room.name, from: ctx.link.userId, reaction: r.reaction });
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
        const room: OpenRoom = { name, media, members: new Map(), peerStates: new PeerStates(), dropTimers: new Map(), messages: [], lastSeq: 0 };
        this.attachMedia(room, media);
        this.rooms.set(name, room);
        this.log.info({ event: 'roomOpened', room: name }, 'room opened');
        return room;
      })().finally(() => this.opening.delete(name));
      this.opening.set(name, pending);
    }
    return pending;
  }

  /** The room's media tells its members of candidates and offers, and of its loss; a media room the room has moved away from is not heard. */
  private attachMedia(room: OpenRoom, media: MediaRoom): void {
    room.media = media;
    media.onCandidate((c) => {
      const link = room.members.get(c.participant as UserId);
      if (link && room.media === media) this.send(room, link, { type: 'iceCandidate', name: c.sender as UserId, candidate: c.candidate });
    });
    media.onOffer((o) => {
      const link = room.members.get(o.participant as UserId);
      if (link && room.media === media) this.send(room, link, { type: 'subscribeOffer', sdpOffer: o.sdp, tracks: o.tracks.map((t) => ({ ...t, participant: t.participant as UserId | null })) });
    });
    media.onSpeakers((s) => {
      if (room.media !== media) return;
      const payload: ServerSignalPayload = { type: 'activeSpeaker', speaker: s.speaker as UserId | null, levels: s.levels };
      for (const link of room.members.values()) this.send(room, link, payload);
    });
    media.onLayers((l) => {
      const link = room.members.get(l.participant as UserId);
      if (link && room.media === media) this.send(room, link, { type: 'publishLayers', mid: l.mid, active: Object.fromEntries(l.rids.map((rid, i) => [rid, l.active[i] ?? true])) });
    });
    media.onClosed((reason) => {
      if (room.media === media) this.mediaLost(room, reason);
    });
  }

  /** `dropped`: the user's device went and did not come back in time (they did not leave). */
  private async leave(room: OpenRoom, user: UserId, dropped = false): Promise<void> {
    if (!room.members.delete(user)) return;
    this.save(room);
    clearTimeout(room.dropTimers.get(user));
    room.dropTimers.delete(user);
    this.cluster.clearInRoom(user, room.name);
    room.peerStates.forget(user);
    this.log.info({ event: 'roomLeft', room: room.name, userId: user, dropped, members: room.members.size }, 'left a room');
    await room.media.leave(user);
    for (const link of room.members.values()) {
      link.send({ type: 'room.left', room: room.name, userId: user, ...(dropped ? { dropped: true as const } : {}) });
      this.send(room, link, { type: 'participantLeft', name: user });
    }
    if (room.members.size === 0) await this.closeRoom(room);
  }

  /** A member signalling from a new socket (the old one dropped) takes their place there. */
  private adoptDevice(room: OpenRoom, link: DeviceLink): void {
    if (room.members.get(link.userId) === link) return;
    const timer = room.dropTimers.get(link.userId);
    clearTimeout(timer);
    room.dropTimers.delete(link.userId);
    room.members.set(link.userId, link);
    this.save(room);
    if (timer) this.notify(room, { type: 'room.participant', room: room.name, userId: link.userId, connection: 'connected' }, link.userId);
  }

  /**
   * The media server lost the room. On media nodes (which place a new room elsewhere) the
   * room moves: its members stay. Otherwise (e.g. its media worker crashed) everyone is
   * out, and told so.
   */
  private mediaLost(room: OpenRoom, reason: string): void {
    if (this.rooms.get(room.name) !== room) return;
    if (movesLostRooms(this.media) && room.members.size > 0 && !room.moving) {
      room.moving = this.move(room, reason).finally(() => (room.moving = undefined));
      return;
    }
    this.endLost(room, reason);
  }

  /**
   * Re-creates the room's media on another media node and moves its members there: each
   * gets room.moved (drop the old peer connections) and existingParticipants (publish and
   * receive again, as after a join). Their chat, states and recording flags stay.
   */
  private async move(room: OpenRoom, reason: string): Promise<void> {
    const started = Date.now();
    this.log.warn({ event: 'roomMediaMoving', room: room.name, members: [...room.members.keys()], reason }, 'the room\'s media node stopped: moving the room');
    let media: MediaRoom | undefined;
    try {
      media = await recreateRoom(this.media, `room ${room.name}`, {}, (made) => {
        if (this.rooms.get(room.name) !== room || room.members.size === 0) return undefined;
        this.attachMedia(room, made);
        return room.members.keys();
      });
    } catch (error) {
      this.log.warn({ event: 'roomMoveFailed', room: room.name, err: error }, 'the room could not be moved to another media node');
      if (this.rooms.get(room.name) === room) this.endLost(room, reason);
      return;
    }
    if (!media) return;
    this.save(room);
    for (const link of room.members.values()) this.tellMoved(room, link);
    this.log.info({ event: 'roomMediaMoved', room: room.name, members: room.members.size, ms: Date.now() - started }, 'room moved to another media node');
  }

  /**
   * The room's media moved: `link`'s device drops its peer connections and makes new ones
   * (existingParticipants, as after a join). Members whose device is away are left out:
   * they join again with new media, and the others then hear newParticipantArrived (one
   * downlink from them, not one now and another then).
   */
  private tellMoved(room: OpenRoom, link: DeviceLink): void {
    link.send({ type: 'room.moved', room: room.name });
    const others = [...room.members.keys()].filter((u) => u !== link.userId && !room.dropTimers.has(u));
    this.send(room, link, { type: 'existingParticipants', data: others, bundled: room.media.bundled });
  }

  // --- rooms of a signaling node that died ---------------------------------------------

  /** Saves what the room needs to go on should this node die (in the cluster; once per turn of the event loop). */
  private save(room: OpenRoom): void {
    if (!this.cluster.shared || this.unsaved.has(room)) return;
    this.unsaved.add(room);
    queueMicrotask(() => {
      this.unsaved.delete(room);
      if (this.rooms.get(room.name) !== room) return;
      const saved: SavedRoom = {
        members: [...room.members.values()].flatMap((link) => this.cluster.deviceRef(link) ?? []),
        states: room.peerStates.entries(),
        messages: room.messages,
        lastSeq: room.lastSeq,
        mediaRoom: room.media.label,
      };
      this.cluster.saveState('room', room.name, roomFields(saved));
    });
  }

  /**
   * A room of a signaling node that died is ours now (docs/deployment.md, "A node
   * killed"): it opens here from what its owner saved (members, announced states, chat)
   * with its media made anew on a media server (the old pipeline went with the dead
   * node's media session). Members on other nodes are moved (`room.moved`); members whose
   * device was on the dead node are reconnecting, and take their place back by joining
   * again (the SDK does on reconnecting). Joins wait for it meanwhile.
   */
  private adopt(adopted: Adopted): void {
    const name = adopted.key as RoomName;
    if (this.rooms.has(name) || this.opening.has(name)) {
      this.log.warn({ event: 'roomAdoptFailed', room: name, from: adopted.from }, 'a room taken over from a node that died is open here already');
      return;
    }
    const pending = this.adoptRoom(name, adopted).finally(() => this.opening.delete(name));
    this.opening.set(name, pending);
    pending.catch(() => undefined);
  }

  private async adoptRoom(name: RoomName, adopted: Adopted): Promise<OpenRoom> {
    let saved: SavedRoom;
    try {
      saved = parseRoom(adopted.state);
    } catch (error) {
      this.log.warn({ event: 'roomAdoptFailed', room: name, from: adopted.from, err: error }, 'could not take over a room of a signaling node that died');
      this.cluster.release('room', name);
      throw new SignalingError('NOT_FOUND', `room ${name} was lost with its server; join again`);
    }
    const members = new Map<UserId, DeviceLink>();
    const away: DeviceLink[] = [];
    for (const ref of saved.members) {
      const { link, online } = this.cluster.linkOf(ref);
      members.set(ref.userId, link);
      this.cluster.setInRoom(ref.userId, name);
      if (!online) away.push(link);
    }
    const peerStates = new PeerStates();
    for (const [user, state] of saved.states) peerStates.apply(user, state);
    this.cluster.own('room', name);
    const made: { room?: OpenRoom } = {};
    try {
      await recreateRoom(this.media, `room ${name}`, {}, (media) => {
        made.room = { name, media, members, peerStates, dropTimers: new Map(), messages: saved.messages, lastSeq: saved.lastSeq };
        this.attachMedia(made.room, media);
        return members.keys();
      });
    } catch (error) {
      this.log.warn({ event: 'roomAdoptFailed', room: name, from: adopted.from, err: error }, 'could not make the media of a room taken over from a node that died');
      for (const user of members.keys()) this.cluster.clearInRoom(user, name);
      this.cluster.release('room', name);
      for (const link of members.values()) link.send({ type: 'room.ended', room: name, reason: 'mediaError' });
      throw error;
    }
    const room = made.room!;
    this.rooms.set(name, room);
    this.log.warn({ event: 'roomAdopted', room: name, from: adopted.from, members: [...members.keys()], away: away.map((l) => l.userId) }, 'took over a room of a signaling node that died');
    for (const link of away) this.dropped(room, link);
    for (const [user, link] of members) if (!room.dropTimers.has(user)) this.tellMoved(room, link);
    this.save(room);
    return room;
  }

  /** Another node adopted this room while this one stalled: it goes on there; dropped here without a word. */
  private async disown(name: RoomName): Promise<void> {
    const room = this.rooms.get(name);
    if (!room) return;
    this.rooms.delete(name);
    this.clearDropTimers(room);
    for (const user of room.members.keys()) this.cluster.clearInRoom(user, name);
    this.log.warn({ event: 'roomDisowned', room: name }, 'another node took over this room while this node stalled: dropped here');
    await room.media.close().catch(() => undefined);
  }

  /** The room ends for everyone in it (mediaError): its media is gone for good. */
  private endLost(room: OpenRoom, reason: string): void {
    this.rooms.delete(room.name);
    this.log.warn({ event: 'roomMediaLost', room: room.name, members: [...room.members.keys()], reason }, 'the media server lost the room');
    const links = [...room.members.values()];
    for (const user of room.members.keys()) this.cluster.clearInRoom(user, room.name);
    room.members.clear();
    this.clearDropTimers(room);
    this.cluster.release('room', room.name);
    for (const link of links) link.send({ type: 'room.ended', room: room.name, reason: 'mediaError' });
  }

  private async closeRoom(room: OpenRoom): Promise<void> {
    this.rooms.delete(room.name);
    this.clearDropTimers(room);
    for (const user of room.members.keys()) this.cluster.clearInRoom(user, room.name);
    this.cluster.release('room', room.name);
    this.log.info({ event: 'roomClosed', room: room.name }, 'room closed');
    await room.media.close();
  }

  private clearDropTimers(room: OpenRoom): void {
    for (const timer of room.dropTimers.values()) clearTimeout(timer);
    room.dropTimers.clear();
  }

  private send(room: OpenRoom, link: DeviceLink, payload: ServerSignalPayload): void {
    link.send({ type: 'room.signal', room: room.name, payload });
  }

  /** To every member (but `except`). */
  private notify(room: OpenRoom, n: ServerNotification, except?: UserId): void {
    for (const [user, link] of room.members) if (user !== except) link.send(n);
  }
}
