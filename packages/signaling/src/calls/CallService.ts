import { randomUUID } from 'node:crypto';
import {
  DEFAULT_RING_TIMEOUT_MS,
  MAX_CALL_PARTICIPANTS,
  STALE_CALL_MESSAGE_MS,
  type CallId,
  type CallRecord,
  type ConversationId,
  type ConversationInfo,
  type EndReason,
  type RequestOf,
  type RequestType,
  type ServerNotification,
  type ServerSignalPayload,
  type SignalPayload,
  type UserId,
} from '@roundtable/protocol';
import type { Adopted, Cluster } from '../cluster/Cluster.js';
import { videoRequestOf, type MediaRoom, type MediaServer, type RoomLayers, type RoomOffer, type RoomOptions, type RoomSpeakers } from '../media/MediaServer.js';
import { movesLostRooms, recreateRoom } from '../media/recreateRoom.js';
import { SignalingError, type Handler, type HandlerTable, type RequestContext } from '../net/Handlers.js';
import type { DeviceLink, Router } from '../net/Router.js';
import { Call } from './Call.js';
import { callFields, parseCall, type SavedCall } from './SavedState.js';

/** What calls need from the IM side: conversations and a place for call records. */
export interface ConversationDirectory {
  conversation(id: ConversationId): Promise<ConversationInfo | undefined>;
  /** Persists the record as a 'call' message of the conversation and delivers it. */
  appendCallRecord(conversationId: ConversationId, record: CallRecord): Promise<void>;
  /** Persists the record of a call outside any conversation (loopback). */
  saveCallRecord(record: CallRecord): Promise<void>;
  /** How a call from `callerId` reaches `calleeId`: it rings, it comes as a request (a non-contact), or not at all (blocked). */
  callPolicy(calleeId: UserId, callerId: UserId): Promise<CallPolicy>;
}

export type CallPolicy = 'ring' | 'request' | 'blocked';

/** What a caller who was blocked is told: that the call did not go through, nothing about the callee. */
const NOT_ACCEPTED = 'this user does not accept this from you';

export interface CallServiceOptions {
  /** Unanswered calls end with reason `timeout` after this (ms). Default 60000. */
  ringTimeoutMs?: number;
  /** A participant whose device dropped is taken out after this unless it comes back (ms). Default 15000. */
  disconnectGraceMs?: number;
  /** Call messages older than this (by their `sentAt`) are ignored (ms). Default 90000. */
  staleAfterMs?: number;
  logger?: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
  /**
   * The signaling nodes this one shares users with: calls are owned here and announced
   * there, and who is in a call elsewhere counts as busy. Default: none (one process).
   */
  cluster?: CallCluster;
}

/** What calls need of the cluster (docs/architecture.md, "Cluster"). */
export type CallCluster = Pick<
  Cluster,
  'shared' | 'own' | 'release' | 'setInCall' | 'clearInCall' | 'inCallElsewhere' | 'forward' | 'saveState' | 'deviceRef' | 'linkOf' | 'onAdopted' | 'onDisowned'
>;

const NO_CLUSTER: CallCluster = {
  shared: false,
  own: () => undefined,
  release: () => undefined,
  saveState: () => undefined,
  deviceRef: () => undefined,
  linkOf: () => {
    throw new Error('no cluster');
  },
  onAdopted: () => () => undefined,
  onDisowned: () => () => undefined,
  setInCall: () => undefined,
  clearInCall: () => undefined,
  inCallElsewhere: async () => undefined,
  forward: async () => {
    throw new Error('no cluster');
  },
};

type WithoutSentAt<U> = U extends { sentAt: number } ? Omit<U, 'sentAt'> : U;
/** A notification before the server stamps its send time. */
type Unstamped = WithoutSentAt<ServerNotification>;

const silent = { info: () => undefined, warn: () => undefined };

/**
 * The call model of docs/signaling-protocol.md: 1:1 calls P2P or through the media
 * server, group calls of up to 9 through the media server, the loopback self-test.
 * Calls live in conversations; each leaves a record there when it ends.
 *
 * A user is in at most one call at a time, but may be rung for several: being rung
 * never makes anyone busy (call waiting). A call to someone in a call rings as
 * `waiting`; answering it with `switch` leaves the current call first.
 */
export class CallService {
  private readonly calls = new Map<CallId, Call>();
  /** The call each user is in (answered or started, not left). Being rung does not count. */
  private readonly inCall = new Map<UserId, CallId>();
  private readonly ringTimeoutMs: number;
  private readonly graceMs: number;
  private readonly staleMs: number;
  private readonly log: NonNullable<CallServiceOptions['logger']>;
  private readonly joinedListeners: Array<(callId: CallId, user: UserId) => void> = [];
  private readonly cluster: CallCluster;
  /** Calls changed since their state was last saved in the cluster (saved once per turn of the event loop). */
  private readonly unsaved = new Set<Call>();

  constructor(
    private readonly router: Router,
    private readonly media: MediaServer,
    private readonly directory: ConversationDirectory,
    options: CallServiceOptions = {},
  ) {
    this.ringTimeoutMs = options.ringTimeoutMs ?? DEFAULT_RING_TIMEOUT_MS;
    this.graceMs = options.disconnectGraceMs ?? 15_000;
    this.staleMs = options.staleAfterMs ?? STALE_CALL_MESSAGE_MS;
    this.log = options.logger ?? silent;
    this.cluster = options.cluster ?? NO_CLUSTER;
    router.onDeviceGone((link) => this.onDeviceGone(link));
    this.cluster.onAdopted((adopted) => {
      if (adopted.kind === 'call') void this.adopt(adopted);
    });
    this.cluster.onDisowned((kind, key) => {
      if (kind === 'call') void this.disown(key as CallId);
    });
  }

  /** Told when someone joins a running call (answers it): e.g. to tell them it is being recorded. */
  onJoined(listener: (callId: CallId, user: UserId) => void): void {
    this.joinedListeners.push(listener);
  }

  /** The request handlers of the call messages (seed types 400-405, and invite). */
  handlers(): HandlerTable {
    return {
      'call.start': this.saving((r, ctx) => this.start(r, ctx)),
      'call.answer': this.saving((r, ctx) => this.answer(r, ctx)),
      'call.bye': this.saving((r, ctx) => this.bye(r, ctx)),
      // Signals change the call only through adoptDevice and leave, which save it.
      'call.signal': (r, ctx) => this.signal(r, ctx),
      'call.modify': this.saving((r, ctx) => this.modify(r, ctx)),
      'call.invite': this.saving((r, ctx) => this.invite(r, ctx)),
      'call.state': this.saving((r, ctx) => this.peerState(r, ctx)),
      'call.react': (r, ctx) => this.react(r, ctx),
      'call.rejoin': this.saving((r, ctx) => this.rejoin(r, ctx)),
    };
  }

  /** A handler whose call (the request's, or the one it started) is saved in the cluster once it ran, whatever came of it. */
  private saving<T extends RequestType>(handler: Handler<T>): Handler<T> {
    return async (r, ctx) => {
      let result: unknown;
      try {
        result = await handler(r, ctx);
        return result;
      } finally {
        const id = 'callId' in r && typeof r.callId === 'string' ? r.callId : (result as { callId?: CallId } | undefined)?.callId;
        const call = id === undefined ? undefined : this.calls.get(id as CallId);
        if (call) this.save(call);
      }
    };
  }

  /** The call with this id while it is not over (for recording). */
  find(id: CallId): Call | undefined {
    return this.calls.get(id);
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  /** People in a call now (answered, not left), over all calls; those still being rung are not counted. */
  get participantCount(): number {
    let count = 0;
    for (const call of this.calls.values()) count += call.participants.size;
    return count;
  }

  /** Ends every call (server shutdown), recording them. */
  async close(reason: EndReason = 'hangup'): Promise<void> {
    for (const call of [...this.calls.values()]) await this.end(call, reason, null);
  }

  // --- handlers -------------------------------------------------------------------

  private async start(r: RequestOf<'call.start'>, ctx: RequestContext): Promise<unknown> {
    if (this.stale(r.sentAt)) return { ignored: true, reason: 'stale' };
    const me = ctx.link.userId;
    if (this.inCall.has(me) || (this.cluster.shared && (await this.busy(me)))) throw new SignalingError('BUSY', 'you are already in a call');
    if (r.topology === 'loopback') return this.startLoopback(r, ctx);

    if (!r.conversationId) throw new SignalingError('BAD_REQUEST', 'conversationId is required for a call');
    const conversation = await this.directory.conversation(r.conversationId);
    if (!conversation) throw new SignalingError('NOT_FOUND', 'no such conversation');
    if (!conversation.memberIds.includes(me)) throw new SignalingError('FORBIDDEN', 'you are not a member of this conversation');
    const group = conversation.kind === 'group';
    let invitees: UserId[];
    if (group) {
      invitees = [...new Set(r.invitees ?? [])].filter((u) => u !== me);
      if (invitees.length === 0) throw new SignalingError('BAD_REQUEST', 'a group call needs invitees');
      const outsider = invitees.find((u) => !conversation.memberIds.includes(u));
      if (outsider) throw new SignalingError('FORBIDDEN', `${outsider} is not a member of this conversation`);
      if (invitees.length + 1 > MAX_CALL_PARTICIPANTS) {
        throw new SignalingError('CALL_FULL', `a call has at most ${MAX_CALL_PARTICIPANTS} participants, the initiator included`);
      }
      if (r.topology !== 'sfu') throw new SignalingError('BAD_REQUEST', 'group calls go through the media server (topology sfu)');
    } else {
      invitees = conversation.memberIds.filter((u) => u !== me);
    }

    if (r.media === 'hybrid' && r.topology !== 'sfu') throw new SignalingError('BAD_REQUEST', "hybrid media needs topology 'sfu' (the server mixes the audio)");
    const policies = await this.policiesFor(invitees, me);
    // A 1:1 caller who is blocked learns only that the call does not go through (docs/security.md).
    if (!group && policies.get(invitees[0]!) === 'blocked') throw new SignalingError('FORBIDDEN', NOT_ACCEPTED);
    // In one process, who is in a call is known when ringing (below); in a cluster, asked of Redis now.
    const waiting = this.cluster.shared ? await this.busyAmong(invitees) : undefined;
    // Checked again: another device of the user may have started or answered a call while the store was read.
    if (this.inCall.has(me) || (this.cluster.shared && (await this.busy(me)))) throw new SignalingError('BUSY', 'you are already in a call');

    const call = new Call(randomUUID() as CallId, conversation.id, me, r.audioOnly, r.topology, group, Date.now());
    call.media = r.media ?? 'sfu';
    this.calls.set(call.id, call);
    // Before anyone is rung: a callee on another node answers through the owner it finds.
    this.cluster.own('call', call.id);
    this.join(call, ctx.link);
    if (call.usesMedia) {
      const room = await this.media.createRoom(`call ${call.id}`, this.roomOptions(call));
      this.attachRoom(call, room);
      await room.join(me);
      this.sendSignal(call, ctx.link, null, { type: 'existingParticipants', data: [], bundled: room.bundled });
    }
    for (const u of invitees) this.ring(call, u, policies.get(u)!, waiting?.has(u) ?? this.inCall.has(u));
    if (call.ringing.size === 0 && !group) {
      // The only callee is busy: the seed answers CallStart with CallBye(busy).
      await this.end(call, 'busy', null);
      return { callId: call.id, ended: 'busy' };
    }
    this.armRingTimer(call);
    this.log.info({ event: 'callStarted', callId: call.id, conversationId: call.conversationId, userId: me, deviceId: ctx.link.deviceId, invitees, topology: call.topology, media: call.media, group }, 'call started');
    // `invitees`: the users now being rung (busy ones left out), so a client can list them before anyone answers.
    return { callId: call.id, invitees: [...call.ringing], media: call.media };
  }

  private async startLoopback(r: RequestOf<'call.start'>, ctx: RequestContext): Promise<unknown> {
    const me = ctx.link.userId;
    const call = new Call(randomUUID() as CallId, null, me, r.audioOnly, 'loopback', false, Date.now());
    this.calls.set(call.id, call);
    this.cluster.own('call', call.id);
    this.join(call, ctx.link);
    call.phase = 'active';
    call.answeredAt = call.startedAt;
    const room = await this.media.createRoom(`loopback ${call.id}`);
    this.attachRoom(call, room);
    await room.join(me);
    this.log.info({ event: 'callStarted', callId: call.id, conversationId: null, userId: me, deviceId: ctx.link.deviceId, topology: call.topology }, 'loopback call started');
    return { callId: call.id };
  }

  private async answer(r: RequestOf<'call.answer'>, ctx: RequestContext): Promise<unknown> {
    if (this.stale(r.sentAt)) return { ignored: true, reason: 'stale' };
    const call = this.callOf(r.callId);
    const me = ctx.link.userId;
    if (call.participants.has(me)) throw new SignalingError('INVALID_STATE', 'you already answered this call');
    if (!call.ringing.has(me)) throw new SignalingError('FORBIDDEN', 'you are not invited to this call');
    const current = this.inCall.get(me);
    const other = current === undefined ? undefined : this.calls.get(current);
    const elsewhere = other || !this.cluster.shared ? undefined : await this.cluster.inCallElsewhere(me);
    if (elsewhere && elsewhere.callId !== call.id) {
      // In a call owned by another node: that node hangs it up for the user.
      if (!call.ringing.has(me)) throw new SignalingError('NOT_FOUND', 'no such call (it may have ended)');
      if (!r.switch) throw new SignalingError('INVALID_STATE', 'you are in another call: answer with switch: true to leave it for this one');
      await this.cluster.forward(elsewhere.node, 'call.bye', { id: 0, type: 'call.bye', callId: elsewhere.callId as CallId, reason: 'hangup' }, ctx.link).catch((error: unknown) => {
        if (!(error instanceof SignalingError && error.code === 'NOT_FOUND')) throw error;
      });
      this.router.sendToUser(me, this.stamp({ type: 'call.ended', callId: elsewhere.callId as CallId, reason: 'hangup', by: me }), ctx.link);
      if (!call.ringing.has(me)) throw new SignalingError('NOT_FOUND', 'the call ended while you were leaving the other one');
    }
    if (other) {
      if (!r.switch) throw new SignalingError('INVALID_STATE', 'you are in another call: answer with switch: true to leave it for this one');
      // Switching: the current call goes on without the user (a 1:1 call ends), as with a hang-up.
      await this.hangUpFor(other, me, 'hangup');
      // The user's other devices (the one in that call may not be this one) learn it is over for them.
      this.router.sendToUser(me, this.stamp({ type: 'call.ended', callId: other.id, reason: 'hangup', by: me }), ctx.link);
      if (!call.ringing.has(me)) throw new SignalingError('NOT_FOUND', 'the call ended while you were leaving the other one');
    }
    // A call moving to another media node takes its answerer on the new one.
    if (call.moving) {
      await call.moving;
      if (!call.ringing.has(me)) throw new SignalingError('NOT_FOUND', 'no such call (it may have ended)');
    }
    call.ringing.delete(me);
    this.join(call, ctx.link);
    // The user's other devices stop ringing.
    this.router.sendToUser(me, this.stamp({ type: 'call.ended', callId: call.id, reason: 'acceptByOtherClient', by: me }), ctx.link);
    if (call.phase === 'ringing') {
      call.phase = 'active';
      call.answeredAt = Date.now();
    }
    if (call.audioOnly && !r.audioOnly) call.audioOnly = false;
    const answered = this.stamp({ type: 'call.answered', callId: call.id, by: me, deviceId: ctx.link.deviceId, audioOnly: r.audioOnly, transparent: r.transparent ?? false });
    for (const user of call.participants.keys()) if (user !== me) this.deliver(call, user, answered);
    call.peerStates.forget(me);
    for (const [user, state] of call.peerStates.announced(me)) this.deliver(call, me, this.stamp({ type: 'call.participantState', callId: call.id, userId: user, state }));
    if (call.room) {
      const others = [...call.participants.keys()].filter((u) => u !== me);
      await call.room.join(me);
      this.sendSignal(call, ctx.link, null, { type: 'existingParticipants', data: others, bundled: call.room.bundled });
      for (const u of others) this.sendSignal(call, call.participants.get(u)!, null, { type: 'newParticipantArrived', name: me });
    }
    if (!call.group || call.ringing.size === 0) this.clearRingTimer(call);
    for (const listener of this.joinedListeners) listener(call.id, me);
    this.log.info({ event: 'callAnswered', callId: call.id, userId: me, deviceId: ctx.link.deviceId }, 'call answered');
    return { callId: call.id, participants: [...call.participants.keys()] };
  }

  private async bye(r: RequestOf<'call.bye'>, ctx: RequestContext): Promise<unknown> {
    if (this.stale(r.sentAt)) return { ignored: true, reason: 'stale' };
    const call = this.callOf(r.callId);
    const me = ctx.link.userId;
    if (call.ringing.has(me)) {
      // A decline.
      call.ringing.delete(me);
      this.router.sendToUser(me, this.stamp({ type: 'call.ended', callId: call.id, reason: r.reason, by: me }), ctx.link);
      if (!call.group) {
        await this.end(call, r.reason === 'busy' ? 'busy' : 'remoteHangup', me, r.reason);
      } else {
        this.notifyParticipants(call, this.stamp({ type: 'call.left', callId: call.id, userId: me }));
        await this.endIfEmpty(call);
      }
      return { callId: call.id };
    }
    if (!call.participants.has(me)) throw new SignalingError('FORBIDDEN', 'you are not in this call');
    await this.hangUpFor(call, me, r.reason);
    return { callId: call.id };
  }

  /** A participant hangs up: a 1:1 call, or a group call its initiator hangs up, ends; otherwise they leave it. */
  private async hangUpFor(call: Call, me: UserId, reason: EndReason): Promise<void> {
    if (!call.group || me === call.initiator) {
      await this.end(call, this.remoteReason(reason), me, reason);
    } else {
      await this.leave(call, me);
    }
  }

  private async signal(r: RequestOf<'call.signal'>, ctx: RequestContext): Promise<unknown> {
    if (this.stale(r.sentAt)) return { ignored: true, reason: 'stale' };
    const call = this.callOf(r.callId);
    const me = ctx.link.userId;
    // A call taken over from a node that died has no media room until it is made.
    if (call.moving && !call.room) await call.moving;
    const link = call.participants.get(me);
    if (!link) throw new SignalingError('FORBIDDEN', 'you are not in this call');
    // A signal for media that is gone (the call moved while this device was away): it makes new media now.
    if (this.adoptDevice(call, ctx.link)) return { moved: true };
    const p = r.payload;
    if (call.topology === 'p2p') {
      if (p.type !== 'offer' && p.type !== 'answer' && p.type !== 'candidate') {
        throw new SignalingError('BAD_REQUEST', `'${p.type}' is an SFU message; this call is peer to peer`);
      }
      const peer = [...call.participants.entries()].find(([u]) => u !== me);
      if (!peer) throw new SignalingError('INVALID_STATE', 'the other side has not answered yet');
      this.sendSignal(call, peer[1], me, p);
      return {};
    }
    return this.mediaSignal(call, me, p);
  }

  private async mediaSignal(call: Call, me: UserId, p: SignalPayload): Promise<unknown> {
    const room = call.room!;
    switch (p.type) {
      case 'receiveVideoFrom': {
        if (!call.participants.has(p.sender)) throw new SignalingError('NOT_FOUND', `${p.sender} is not in this call`);
        const sdpAnswer = await room.receiveVideoFrom(me, p.sender, p.sdpOffer, { loopback: call.topology === 'loopback' });
        this.sendSignal(call, call.participants.get(me)!, null, { type: 'receiveVideoAnswer', name: p.sender, sdpAnswer });
        return {};
      }
      case 'publish': {
        const sdpAnswer = await room.publish(me, p.sdpOffer, { renew: p.renew === true });
        this.sendSignal(call, call.participants.get(me)!, null, { type: 'publishAnswer', sdpAnswer });
        return {};
      }
      case 'subscribeAnswer':
        await room.subscribeAnswer(me, p.sdpAnswer);
        return {};
      case 'subscribeRestart':
        await room.restartReceiving(me);
        return {};
      case 'subscribeQuality':
        if (!call.participants.has(p.participant)) throw new SignalingError('NOT_FOUND', `${p.participant} is not in this call`);
        await room.requestVideo(me, p.participant, videoRequestOf(p.quality));
        return {};
      case 'onIceCandidate':
        await room.addIceCandidate(me, p.name, p.candidate);
        return {};
      case 'leaveRoom':
        await this.leave(call, me);
        return {};
      default:
        throw new SignalingError('BAD_REQUEST', `'${p.type}' is a peer-to-peer message; this call goes through the media server`);
    }
  }

  private async modify(r: RequestOf<'call.modify'>, ctx: RequestContext): Promise<unknown> {
    if (this.stale(r.sentAt)) return { ignored: true, reason: 'stale' };
    const call = this.callOf(r.callId);
    const me = ctx.link.userId;
    if (!call.participants.has(me)) throw new SignalingError('FORBIDDEN', 'you are not in this call');
    call.audioOnly = r.audioOnly;
    this.notifyParticipants(call, this.stamp({ type: 'call.modified', callId: call.id, by: me, audioOnly: r.audioOnly }), me);
    return { callId: call.id, audioOnly: call.audioOnly };
  }

  private async invite(r: RequestOf<'call.invite'>, ctx: RequestContext): Promise<unknown> {
    const call = this.callOf(r.callId);
    const me = ctx.link.userId;
    if (me !== call.initiator) throw new SignalingError('FORBIDDEN', 'only the initiator invites more members');
    if (!call.group || !call.conversationId) throw new SignalingError('BAD_REQUEST', 'only group calls take more members');
    const conversation = await this.directory.conversation(call.conversationId);
    const fresh = [...new Set(r.invitees)].filter((u) => !call.participants.has(u) && !call.ringing.has(u));
    const outsider = fresh.find((u) => !conversation?.memberIds.includes(u));
    if (outsider) throw new SignalingError('FORBIDDEN', `${outsider} is not a member of this conversation`);
    if (call.headcount + fresh.length > MAX_CALL_PARTICIPANTS) {
      throw new SignalingError('CALL_FULL', `a call has at most ${MAX_CALL_PARTICIPANTS} participants, the initiator included`);
    }
    const policies = await this.policiesFor(fresh, me);
    const waiting = this.cluster.shared ? await this.busyAmong(fresh) : undefined;
    if (call.phase === 'ended') throw new SignalingError('NOT_FOUND', 'no such call (it may have ended)');
    const rung = fresh.filter((u) => this.ring(call, u, policies.get(u)!, waiting?.has(u) ?? this.inCall.has(u)));
    this.notifyParticipants(call, this.stamp({ type: 'call.invited', callId: call.id, invitees: rung }));
    if (rung.length > 0) this.armRingTimer(call);
    return { callId: call.id, invited: rung };
  }

  /** A participant's mute / camera / hand changed: the others are told (and a later joiner on answering). */
  private async peerState(r: RequestOf<'call.state'>, ctx: RequestContext): Promise<unknown> {
    const call = this.callOf(r.callId);
    const me = ctx.link.userId;
    if (!call.participants.has(me)) throw new SignalingError('FORBIDDEN', 'you are not in this call');
    const state = call.peerStates.apply(me, r);
    this.notifyParticipants(call, this.stamp({ type: 'call.participantState', callId: call.id, userId: me, state }), me);
    return { state };
  }

  /** A reaction goes to everyone in the call, the sender included (all their screens show it). */
  private async react(r: RequestOf<'call.react'>, ctx: RequestContext): Promise<unknown> {
    const call = this.callOf(r.callId);
    const me = ctx.link.userId;
    if (!call.participants.has(me)) throw new SignalingError('FORBIDDEN', 'you are not in this call');
    this.notifyParticipants(call, this.stamp({ type: 'call.reaction', callId: call.id, from: me, reaction: r.reaction }));
    return {};
  }

  /**
   * A participant takes the call onto this socket with fresh media: after a page reload
   * (the old socket is gone, the grace period runs) or from another device. Their media
   * endpoints are made anew; the others are told they arrived again (newParticipantArrived)
   * and make a new downlink from them.
   */
  private async rejoin(r: RequestOf<'call.rejoin'>, ctx: RequestContext): Promise<unknown> {
    const call = this.callOf(r.callId);
    const me = ctx.link.userId;
    if (!call.participants.has(me)) throw new SignalingError('FORBIDDEN', 'you are not in this call');
    if (!call.room || call.topology === 'loopback') throw new SignalingError('INVALID_STATE', 'only calls through the media server can be rejoined');
    await call.moving;
    if (!call.participants.has(me) || !call.room) throw new SignalingError('NOT_FOUND', 'no such call (it may have ended)');
    // Its media is made anew below, on the room the call has now.
    call.unmoved.delete(me);
    this.adoptDevice(call, ctx.link);
    // The old endpoints belong to a peer connection that is gone.
    await call.room.leave(me);
    await call.room.join(me);
    const others = [...call.participants.keys()].filter((u) => u !== me);
    this.sendSignal(call, ctx.link, null, { type: 'existingParticipants', data: others, bundled: call.room.bundled });
    for (const u of others) this.sendSignal(call, call.participants.get(u)!, null, { type: 'newParticipantArrived', name: me });
    // The reloaded page knows nothing: the others' mute / camera / hand, and a recording in progress (REC).
    for (const [user, state] of call.peerStates.announced(me)) this.deliver(call, me, this.stamp({ type: 'call.participantState', callId: call.id, userId: user, state }));
    for (const listener of this.joinedListeners) listener(call.id, me);
    this.log.info({ event: 'callRejoined', callId: call.id, userId: me, deviceId: ctx.link.deviceId }, 'rejoined the call');
    return {
      callId: call.id,
      conversationId: call.conversationId,
      initiator: call.initiator,
      audioOnly: call.audioOnly,
      topology: call.topology,
      media: call.media,
      group: call.group,
      participants: others,
      ringing: [...call.ringing],
    };
  }

  // --- call life ----------------------------------------------------------------------

  /**
   * Rings a user's devices, as a waiting call when they are in another call, as a request
   * when the policy says so. A user who blocked the initiator is not rung; the others in
   * a group call see them leave, as after a decline.
   */
  private ring(call: Call, user: UserId, policy: CallPolicy, waiting: boolean): boolean {
    if (policy === 'blocked') {
      if (call.group) this.notifyParticipants(call, this.stamp({ type: 'call.left', callId: call.id, userId: user }));
      return false;
    }
    call.ringing.add(user);
    this.save(call);
    this.router.sendToUser(
      user,
      this.stamp({
        type: 'call.incoming',
        callId: call.id,
        conversationId: call.conversationId,
        from: call.initiator,
        audioOnly: call.audioOnly,
        topology: call.topology,
        ...(call.usesMedia && call.topology !== 'loopback' ? { media: call.media } : {}),
        invitees: [...call.ringing, ...call.participants.keys()],
        group: call.group,
        waiting,
        request: policy === 'request',
      }),
    );
    return true;
  }

  private async policiesFor(users: readonly UserId[], caller: UserId): Promise<Map<UserId, CallPolicy>> {
    const policies = new Map<UserId, CallPolicy>();
    for (const u of users) policies.set(u, await this.directory.callPolicy(u, caller));
    return policies;
  }

  private join(call: Call, link: DeviceLink): void {
    call.participants.set(link.userId, link);
    call.everJoined.add(link.userId);
    this.inCall.set(link.userId, call.id);
    this.cluster.setInCall(link.userId, call.id);
    this.save(call);
  }

  /** `dropped`: the user's device went and did not come back in time (they did not hang up). */
  private async leave(call: Call, user: UserId, dropped = false): Promise<void> {
    if (!call.participants.delete(user)) return;
    call.peerStates.forget(user);
    call.unmoved.delete(user);
    this.save(call);
    this.log.info({ event: 'callLeft', callId: call.id, userId: user, dropped }, 'left the call');
    this.forgetInCall(user, call);
    await call.room?.leave(user);
    this.notifyParticipants(call, this.stamp({ type: 'call.left', callId: call.id, userId: user, ...(dropped ? { dropped: true as const } : {}) }));
    if (call.room) {
      for (const link of call.participants.values()) this.sendSignal(call, link, null, { type: 'participantLeft', name: user });
    }
    if (!call.group && call.phase !== 'ended') {
      // A 1:1 call cannot go on with one side gone.
      await this.end(call, 'remoteHangup', user, 'remoteHangup', dropped);
      return;
    }
    await this.endIfEmpty(call);
  }

  private async endIfEmpty(call: Call): Promise<void> {
    if (call.phase === 'ended') return;
    const nobodyElse = [...call.participants.keys()].every((u) => u === call.initiator) && call.ringing.size === 0;
    if (call.participants.size === 0 || (nobodyElse && call.answeredAt === null)) {
      await this.end(call, call.answeredAt === null ? 'remoteHangup' : 'allLeft', null);
    } else if (call.participants.size === 1 && call.ringing.size === 0 && call.answeredAt !== null) {
      await this.end(call, 'allLeft', null);
    }
  }

  private roomOptions(call: Call): RoomOptions {
    return { audio: call.media === 'hybrid' ? 'mixed' : 'forwarded' };
  }

  /** The call's media room tells its participants of candidates, offers and speakers, and of its loss; a room the call has moved away from is not heard. */
  private attachRoom(call: Call, room: MediaRoom): void {
    call.room = room;
    room.onCandidate((c) => {
      if (call.room === room) this.sendCandidate(call, c.participant as UserId, c.sender, c.candidate);
    });
    room.onClosed((reason) => {
      if (call.room === room) void this.mediaLost(call, reason);
    });
    if (call.topology === 'loopback') return;
    room.onOffer((o) => {
      if (call.room === room) this.sendOffer(call, o);
    });
    room.onSpeakers((s) => {
      if (call.room === room) this.sendSpeakers(call, s);
    });
    room.onLayers((l) => {
      if (call.room === room) this.sendLayers(call, l);
    });
  }

  /**
   * The media server lost the call's room. On media nodes (which place a new room
   * elsewhere) a call through the media server moves: its participants stay. Otherwise
   * (e.g. its media worker crashed, or a loopback self-test) the call cannot go on.
   */
  private async mediaLost(call: Call, reason: string): Promise<void> {
    if (call.phase === 'ended') return;
    if (movesLostRooms(this.media) && call.topology !== 'loopback' && call.participants.size > 0) {
      call.moving ??= this.move(call, reason).finally(() => (call.moving = undefined));
      return;
    }
    this.log.warn({ event: 'callMediaLost', callId: call.id, conversationId: call.conversationId, reason }, 'the media server lost the call\'s room');
    await this.end(call, 'mediaError', null);
  }

  /**
   * Re-creates the call's media on another media node and moves its participants there:
   * each gets call.moved (drop the old peer connections) and existingParticipants (publish
   * and receive again, as after answering). The call, its record, its participants and
   * their announced states stay; those still being rung are rung on.
   */
  private async move(call: Call, reason: string): Promise<void> {
    const started = Date.now();
    this.log.warn({ event: 'callMediaMoving', callId: call.id, conversationId: call.conversationId, participants: [...call.participants.keys()], reason }, 'the call\'s media node stopped: moving the call');
    let room: MediaRoom | undefined;
    try {
      room = await recreateRoom(this.media, `call ${call.id}`, this.roomOptions(call), (made) => {
        if (call.phase === 'ended' || call.participants.size === 0) return undefined;
        this.attachRoom(call, made);
        return call.participants.keys();
      });
    } catch (error) {
      this.log.warn({ event: 'callMoveFailed', callId: call.id, conversationId: call.conversationId, err: error }, 'the call could not be moved to another media node');
      await this.end(call, 'mediaError', null);
      return;
    }
    if (!room || call.phase === 'ended') return;
    this.save(call);
    for (const [user, link] of call.participants) {
      // A device away (reconnecting, or on a signaling node that died) hears of it when it signals again.
      if (call.dropTimers.has(user)) call.unmoved.add(user);
      else this.tellMoved(call, link);
    }
    this.log.info({ event: 'callMediaMoved', callId: call.id, conversationId: call.conversationId, participants: call.participants.size, ms: Date.now() - started }, 'call moved to another media node');
  }

  /** The call's media moved: `link`'s device drops its peer connections and makes new ones (existingParticipants, as after answering). */
  private tellMoved(call: Call, link: DeviceLink): void {
    call.unmoved.delete(link.userId);
    link.send(this.stamp({ type: 'call.moved', callId: call.id }));
    this.sendSignal(call, link, null, { type: 'existingParticipants', data: [...call.participants.keys()].filter((u) => u !== link.userId), bundled: call.room?.bundled ?? false });
  }

  // --- calls of a signaling node that died ---------------------------------------------

  /** Saves what the call needs to go on should this node die (in the cluster; once per turn of the event loop). */
  private save(call: Call): void {
    if (!this.cluster.shared || call.topology === 'loopback' || this.unsaved.has(call)) return;
    this.unsaved.add(call);
    queueMicrotask(() => {
      this.unsaved.delete(call);
      if (call.phase === 'ended' || this.calls.get(call.id) !== call) return;
      this.cluster.saveState('call', call.id, callFields(this.savedOf(call)));
    });
  }

  private savedOf(call: Call): SavedCall {
    const participants = [...call.participants.values()].flatMap((link) => this.cluster.deviceRef(link) ?? []);
    return {
      conversationId: call.conversationId,
      initiator: call.initiator,
      audioOnly: call.audioOnly,
      topology: call.topology,
      media: call.media,
      group: call.group,
      startedAt: call.startedAt,
      answeredAt: call.answeredAt,
      mediaRoom: call.room?.label ?? null,
      participants,
      ringing: [...call.ringing],
      everJoined: [...call.everJoined],
      states: call.peerStates.entries(),
    };
  }

  /**
   * A call of a signaling node that died is ours now (docs/deployment.md, "A node
   * killed"): it is made again from what its owner saved, with its participants, those
   * still rung, their announced states and its record's data. Its media pipeline went
   * with the dead node's media session: the call's media is made anew on a media server
   * and its participants moved there (`call.moved`), as when a media node dies.
   * Participants whose device was on the dead node are reconnecting: they have the grace
   * period to signal again from a device (the SDK does on reconnecting), and are then
   * moved too. A state that does not read ends the call for those it names.
   */
  private async adopt(adopted: Adopted): Promise<void> {
    const callId = adopted.key as CallId;
    let saved: SavedCall;
    try {
      saved = parseCall(adopted.state);
      if (this.calls.has(callId)) throw new Error('a call with this id is going on here');
    } catch (error) {
      this.log.warn({ event: 'callAdoptFailed', callId, from: adopted.from, err: error }, 'could not take over a call of a signaling node that died');
      this.cluster.release('call', callId);
      return;
    }
    const call = new Call(callId, saved.conversationId, saved.initiator, saved.audioOnly, saved.topology, saved.group, saved.startedAt);
    call.media = saved.media;
    call.answeredAt = saved.answeredAt;
    call.phase = saved.answeredAt === null ? 'ringing' : 'active';
    for (const user of saved.everJoined) call.everJoined.add(user);
    for (const user of saved.ringing) call.ringing.add(user);
    for (const [user, state] of saved.states) call.peerStates.apply(user, state);
    const away: DeviceLink[] = [];
    for (const ref of saved.participants) {
      let { link, online } = this.cluster.linkOf(ref);
      // The same device, reconnected to a node that is left before the call was taken over.
      const again = online ? undefined : this.router.devicesOf(ref.userId).find((l) => l.deviceId === ref.deviceId);
      if (again) [link, online] = [again, true];
      call.participants.set(ref.userId, link);
      this.inCall.set(ref.userId, call.id);
      this.cluster.setInCall(ref.userId, call.id);
      if (!online) away.push(link);
    }
    this.calls.set(call.id, call);
    this.cluster.own('call', call.id);
    this.log.warn(
      { event: 'callAdopted', callId, conversationId: call.conversationId, from: adopted.from, participants: [...call.participants.keys()], away: away.map((l) => l.userId), ringing: [...call.ringing] },
      'took over a call of a signaling node that died',
    );
    for (const link of away) this.onDeviceGone(link);
    if (call.ringing.size > 0) this.armRingTimer(call);
    this.save(call);
    if (call.participants.size === 0) {
      await this.endIfEmpty(call);
      return;
    }
    if (call.usesMedia) {
      call.moving = this.move(call, `signaling node ${adopted.from} stopped`).finally(() => (call.moving = undefined));
      await call.moving;
    }
  }

  /**
   * Another node adopted this call while this one stalled (docs/deployment.md): it goes on
   * there. Dropped here without a word to anyone and without a record (the adopter writes
   * it); its media room here is closed (the adopter made another).
   */
  private async disown(callId: CallId): Promise<void> {
    const call = this.calls.get(callId);
    if (!call) return;
    call.phase = 'ended';
    this.clearRingTimer(call);
    for (const t of call.dropTimers.values()) clearTimeout(t);
    for (const user of call.participants.keys()) this.forgetInCall(user, call);
    this.calls.delete(call.id);
    this.log.warn({ event: 'callDisowned', callId, conversationId: call.conversationId }, 'another node took over this call while this node stalled: dropped here');
    await call.room?.close().catch(() => undefined);
  }

  /**
   * Ends the call for everyone still in it or being rung, frees its media and writes
   * its record. `reason` is what the others are told; `recorded` what the record keeps.
   */
  private async end(call: Call, reason: EndReason, by: UserId | null, recorded: EndReason = reason, dropped = false): Promise<void> {
    if (call.phase === 'ended') return;
    call.phase = 'ended';
    call.endedAt = Date.now();
    call.endReason = recorded === 'remoteHangup' ? 'hangup' : recorded;
    this.clearRingTimer(call);
    for (const t of call.dropTimers.values()) clearTimeout(t);
    const ended = this.stamp({ type: 'call.ended', callId: call.id, reason, by, ...(dropped ? { dropped: true as const } : {}) });
    for (const user of call.participants.keys()) {
      if (user !== by) this.deliver(call, user, ended);
      this.forgetInCall(user, call);
    }
    for (const user of call.ringing) this.router.sendToUser(user, ended);
    call.ringing.clear();
    this.calls.delete(call.id);
    this.cluster.release('call', call.id);
    await call.room?.close().catch(() => undefined);
    const record = call.record();
    try {
      if (call.conversationId) await this.directory.appendCallRecord(call.conversationId, record);
      else await this.directory.saveCallRecord(record);
    } catch (error) {
      this.log.warn({ event: 'callRecordFailed', callId: call.id, conversationId: call.conversationId, err: error }, 'call record not saved');
    }
    this.log.info(
      { event: 'callEnded', callId: call.id, conversationId: call.conversationId, reason: call.endReason, told: reason, userId: by, participants: record.participants, duration: record.duration },
      'call ended',
    );
  }

  private armRingTimer(call: Call): void {
    this.clearRingTimer(call);
    call.ringTimer = setTimeout(() => void this.ringTimeout(call), this.ringTimeoutMs);
    call.ringTimer.unref();
  }

  private clearRingTimer(call: Call): void {
    if (call.ringTimer) clearTimeout(call.ringTimer);
    call.ringTimer = undefined;
  }

  private async ringTimeout(call: Call): Promise<void> {
    call.ringTimer = undefined;
    if (call.phase === 'ended') return;
    if (call.answeredAt === null) {
      await this.end(call, 'timeout', null);
      return;
    }
    // A group call goes on; the invitees who never answered stop ringing.
    const timedOut = this.stamp({ type: 'call.ended', callId: call.id, reason: 'timeout', by: null });
    for (const user of call.ringing) {
      this.router.sendToUser(user, timedOut);
      this.notifyParticipants(call, this.stamp({ type: 'call.left', callId: call.id, userId: user }));
    }
    call.ringing.clear();
    this.save(call);
    await this.endIfEmpty(call);
  }

  private onDeviceGone(link: DeviceLink): void {
    const callId = this.inCall.get(link.userId);
    const call = callId ? this.calls.get(callId) : undefined;
    if (!call || call.participants.get(link.userId) !== link) return;
    // A network blip is not a hang-up: wait for the user to come back on some device.
    const timer = setTimeout(() => {
      call.dropTimers.delete(link.userId);
      if (call.participants.get(link.userId) === link) void this.leave(call, link.userId, true);
    }, this.graceMs);
    timer.unref();
    call.dropTimers.set(link.userId, timer);
    this.notifyParticipants(call, this.stamp({ type: 'call.participant', callId: call.id, userId: link.userId, connection: 'reconnecting' }), link.userId);
    const quiet = call.peerStates.silence(link.userId);
    if (quiet) this.notifyParticipants(call, this.stamp({ type: 'call.participantState', callId: call.id, userId: link.userId, state: quiet }), link.userId);
  }

  /**
   * A participant signalling from a new device (after a reconnect) takes the call there.
   * True when the call's media moved while the device was away: it was told so (call.moved).
   */
  private adoptDevice(call: Call, link: DeviceLink): boolean {
    const current = call.participants.get(link.userId);
    if (current === link) return false;
    const timer = call.dropTimers.get(link.userId);
    if (timer) clearTimeout(timer);
    call.dropTimers.delete(link.userId);
    call.participants.set(link.userId, link);
    this.save(call);
    if (timer) this.notifyParticipants(call, this.stamp({ type: 'call.participant', callId: call.id, userId: link.userId, connection: 'connected' }), link.userId);
    // Its media moved while it was away: it makes new peer connections now.
    if (call.unmoved.has(link.userId) && !call.moving) {
      this.tellMoved(call, link);
      return true;
    }
    // An offer on its receiving connection may have gone out while the device was away.
    if (call.room?.bundled) void call.room.repeatOffer(link.userId).catch(() => undefined);
    return false;
  }

  // --- helpers ----------------------------------------------------------------------

  private callOf(id: CallId): Call {
    const call = this.calls.get(id);
    if (!call) throw new SignalingError('NOT_FOUND', 'no such call (it may have ended)');
    return call;
  }

  private forgetInCall(user: UserId, call: Call): void {
    if (this.inCall.get(user) !== call.id) return;
    this.inCall.delete(user);
    this.cluster.clearInCall(user, call.id);
  }

  /** In a call here, or in one another node owns. */
  private async busy(user: UserId): Promise<boolean> {
    if (this.inCall.has(user)) return true;
    const elsewhere = await this.cluster.inCallElsewhere(user);
    // Looked at again after the wait: a call may have been started here meanwhile.
    return elsewhere !== undefined || this.inCall.has(user);
  }

  /** Those of `users` in a call now (rung for another call, they hear it as waiting). */
  private async busyAmong(users: readonly UserId[]): Promise<Set<UserId>> {
    const busy = new Set<UserId>();
    for (const u of users) if (await this.busy(u)) busy.add(u);
    return busy;
  }

  private stale(sentAt: number | undefined): boolean {
    return sentAt !== undefined && Date.now() - sentAt > this.staleMs;
  }

  private remoteReason(reason: EndReason): EndReason {
    return reason === 'hangup' ? 'remoteHangup' : reason;
  }

  private notifyParticipants(call: Call, n: ServerNotification, except?: UserId): void {
    for (const user of call.participants.keys()) if (user !== except) this.deliver(call, user, n);
  }

  private sendSignal(call: Call, to: DeviceLink, from: UserId | null, payload: ServerSignalPayload): void {
    this.deliver(call, to.userId, this.stamp({ type: 'call.signal', callId: call.id, from, payload }), to);
  }

  /**
   * Sends to a participant on the device it uses for the call; while that device is gone
   * (a reconnect in progress), to all of the user's devices, so a reconnected device
   * hears the call before it has said anything.
   */
  private deliver(call: Call, user: UserId, n: ServerNotification, link = call.participants.get(user)): void {
    if (call.dropTimers.has(user)) this.router.sendToUser(user, n);
    else link?.send(n);
  }

  private sendCandidate(call: Call, participant: UserId, sender: string, candidate: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }): void {
    const link = call.participants.get(participant);
    if (link) this.sendSignal(call, link, null, { type: 'iceCandidate', name: sender as UserId, candidate });
  }

  /** Who speaks, to everyone in the call. */
  private sendSpeakers(call: Call, s: RoomSpeakers): void {
    const payload: ServerSignalPayload = { type: 'activeSpeaker', speaker: s.speaker as UserId | null, levels: s.levels };
    // Not to the devices of someone reconnecting: the next update reaches them once back.
    for (const [user, link] of call.participants) if (!call.dropTimers.has(user)) link.send(this.stamp({ type: 'call.signal', callId: call.id, from: null, payload }));
  }

  /** Which layers of a participant's simulcast video someone takes, to that participant (its client pauses the others). */
  private sendLayers(call: Call, l: RoomLayers): void {
    const link = call.participants.get(l.participant as UserId);
    if (link) this.sendSignal(call, link, null, { type: 'publishLayers', mid: l.mid, active: Object.fromEntries(l.rids.map((rid, i) => [rid, l.active[i] ?? true])) });
  }

  /** The media server's offer on a participant's receiving connection. */
  private sendOffer(call: Call, o: RoomOffer): void {
    const link = call.participants.get(o.participant as UserId);
    if (link) this.sendSignal(call, link, null, { type: 'subscribeOffer', sdpOffer: o.sdp, tracks: o.tracks.map((t) => ({ ...t, participant: t.participant as UserId | null })) });
  }

  private stamp(n: Unstamped): ServerNotification {
    return { ...n, sentAt: Date.now() } as ServerNotification;
  }
}
