import { randomUUID } from 'node:crypto';
import type { CallRecord, ChatMessage, ContactInfo, ConversationId, ConversationInfo, MessageId, UserId, UserInfo, UserSettings } from '@roundtable/protocol';
import { SignalingError } from '../net/Handlers.js';
import type { DeviceLink, Router } from '../net/Router.js';
import type { Store } from '../store/Store.js';
import { StoreError } from '../store/StoreError.js';

export interface ImServiceOptions {
  store: Store;
  router: Router;
  /** Clock, in ms. Default `Date.now`. */
  now?: () => number;
  /** Page size of `history` when the client gives none. Default 50. */
  defaultHistoryLimit?: number;
  /** Largest page of `history`. Default 100 (the protocol's cap). */
  maxHistoryLimit?: number;
}

/**
 * Users, contacts, conversations and messages: the IM half of the signaling server.
 * Every message is persisted first, then delivered to the members' online devices;
 * offline devices catch up through `history`. Failures are `SignalingError`s.
 *
 * `except` parameters name the requesting device, which learns the outcome from its
 * response and so is not notified a second time.
 */
export class ImService {
  private readonly store: Store;
  private readonly router: Router;
  private readonly now: () => number;
  private readonly defaultHistoryLimit: number;
  private readonly maxHistoryLimit: number;

  constructor(options: ImServiceOptions) {
    this.store = options.store;
    this.router = options.router;
    this.now = options.now ?? Date.now;
    this.defaultHistoryLimit = options.defaultHistoryLimit ?? 50;
    this.maxHistoryLimit = options.maxHistoryLimit ?? 100;
  }

  // --- users and contacts ----------------------------------------------------------

  /** The public profile of a user, or NOT_FOUND. */
  async user(userId: UserId): Promise<UserInfo> {
    const stored = await this.store.userById(userId);
    if (!stored) throw new SignalingError('NOT_FOUND', `no user ${userId}`);
    return publicInfo(stored);
  }

  /** Public profiles of the users with these ids that exist (in the order asked). */
  async users(userIds: readonly UserId[]): Promise<UserInfo[]> {
    const out: UserInfo[] = [];
    for (const id of new Set(userIds)) {
      const stored = await this.store.userById(id);
      if (stored) out.push(publicInfo(stored));
    }
    return out;
  }

  /** Looks a user up by exact username, or NOT_FOUND. */
  async findUser(username: string): Promise<UserInfo> {
    const stored = await this.store.userByName(username);
    if (!stored) throw new SignalingError('NOT_FOUND', `no user named '${username}'`);
    return publicInfo(stored);
  }

  /**
   * Asks `contactId` to become a contact. They get a `contact.request`; once they accept,
   * both are each other's contacts. If they had asked first, this accepts their request.
   * Idempotent. Someone who blocked the user: FORBIDDEN (docs/security.md).
   */
  async requestContact(userId: UserId, contactId: UserId, except?: DeviceLink): Promise<{ status: 'requested' | 'contacts'; user: UserInfo }> {
    if (contactId === userId) throw new SignalingError('BAD_REQUEST', 'you cannot add yourself as a contact');
    const contact = await this.user(contactId);
    if (await this.store.isBlocked(contactId, userId)) throw new SignalingError('FORBIDDEN', NOT_ACCEPTED);
    if ((await this.store.isContact(userId, contactId)) && (await this.store.isContact(contactId, userId))) return { status: 'contacts', user: contact };
    if (await this.store.hasContactRequest(contactId, userId)) {
      await this.acceptContact(userId, contactId, except);
      return { status: 'contacts', user: contact };
    }
    const fresh = !(await this.store.hasContactRequest(userId, contactId));
    await this.store.addContactRequest(userId, contactId);
    if (fresh) this.router.sendToUser(contactId, { type: 'contact.request', from: await this.user(userId) });
    return { status: 'requested', user: contact };
  }

  /** Accepts `fromId`'s request: both become contacts, and both users' devices hear `contact.accepted`. NOT_FOUND without a request. */
  async acceptContact(userId: UserId, fromId: UserId, except?: DeviceLink): Promise<UserInfo> {
    if (!(await this.store.hasContactRequest(fromId, userId))) throw new SignalingError('NOT_FOUND', 'no contact request from this user');
    const [me, them] = [await this.user(userId), await this.user(fromId)];
    await this.store.makeContacts(userId, fromId);
    this.router.sendToUser(fromId, { type: 'contact.accepted', user: me });
    this.router.sendToUser(userId, { type: 'contact.accepted', user: them }, except);
    return them;
  }

  /** Declines (deletes) `fromId`'s request; the requester is not told. NOT_FOUND without a request. */
  async declineContact(userId: UserId, fromId: UserId): Promise<void> {
    if (!(await this.store.deleteContactRequest(fromId, userId))) throw new SignalingError('NOT_FOUND', 'no contact request from this user');
  }

  /** The user's contacts, each with whether they are online now. */
  async contacts(userId: UserId): Promise<ContactInfo[]> {
    return (await this.store.contactsOf(userId)).map((u) => ({ ...publicInfo(u), online: this.router.isOnline(u.id) }));
  }

  /** Contact requests to the user and from the user. */
  async contactRequests(userId: UserId): Promise<{ incoming: UserInfo[]; outgoing: UserInfo[] }> {
    return this.store.contactRequestsOf(userId);
  }

  // --- blocking and the call preference ---------------------------------------------

  /**
   * Blocks `otherId`: their calls, messages and contact requests no longer reach the
   * user (they get FORBIDDEN in 1:1; docs/security.md). Their pending request is
   * dropped; contacts stay (unblocking restores everything). Idempotent.
   */
  async block(userId: UserId, otherId: UserId): Promise<void> {
    if (otherId === userId) throw new SignalingError('BAD_REQUEST', 'you cannot block yourself');
    await this.user(otherId);
    await this.store.addBlock(userId, otherId);
    await this.store.deleteContactRequest(otherId, userId);
  }

  /** Idempotent. */
  async unblock(userId: UserId, otherId: UserId): Promise<void> {
    await this.store.deleteBlock(userId, otherId);
  }

  /** The users this user blocked, by username. */
  async blocked(userId: UserId): Promise<UserInfo[]> {
    return this.store.blockedBy(userId);
  }

  async settings(userId: UserId): Promise<UserSettings> {
    return this.store.userSettings(userId);
  }

  /** Changes the settings given; the others keep their value. */
  async updateSettings(userId: UserId, patch: Partial<UserSettings>): Promise<UserSettings> {
    const settings = { ...(await this.store.userSettings(userId)), ...definedOnly(patch) };
    await this.store.saveUserSettings(userId, settings);
    return settings;
  }

  /**
   * How a call from `callerId` reaches `calleeId` (for the call module): 'blocked' when
   * the callee blocked the caller, 'request' when the caller is not the callee's contact
   * and the callee wants such calls as requests, 'ring' otherwise.
   */
  async callPolicy(calleeId: UserId, callerId: UserId): Promise<'ring' | 'request' | 'blocked'> {
    if (await this.store.isBlocked(calleeId, callerId)) return 'blocked';
    const { callsFromNonContacts } = await this.store.userSettings(calleeId);
    if (callsFromNonContacts === 'request' && !(await this.store.isContact(calleeId, callerId))) return 'request';
    return 'ring';
  }

  // --- conversations ---------------------------------------------------------------

  /**
   * The 1:1 conversation of two users, created on first use; a creation is announced
   * with a `conversation` notification to both users' devices.
   */
  async directConversation(userId: UserId, otherId: UserId, except?: DeviceLink): Promise<{ conversation: ConversationInfo; created: boolean }> {
    if (otherId === userId) throw new SignalingError('BAD_REQUEST', 'a direct conversation needs another user');
    const existing = await this.store.directConversation(userId, otherId);
    if (existing) return { conversation: existing, created: false };
    const [me, other] = [await this.user(userId), await this.user(otherId)];
    const conversation: ConversationInfo = {
      id: randomUUID() as ConversationId,
      kind: 'direct',
      name: `${me.displayName}, ${other.displayName}`,
      memberIds: [userId, otherId],
      createdAt: this.now(),
    };
    try {
      await this.store.createConversation(conversation);
    } catch (error) {
      // The other user opened it at the same moment: theirs stands.
      const raced = error instanceof StoreError && error.code === 'conflict' ? await this.store.directConversation(userId, otherId) : undefined;
      if (raced) return { conversation: raced, created: false };
      throw error;
    }
    this.announce(conversation, except);
    return { conversation, created: true };
  }

  /** A group of the creator and `memberIds` (all must exist); announced to every member's devices. */
  async createGroup(creatorId: UserId, name: string, memberIds: readonly UserId[], except?: DeviceLink): Promise<ConversationInfo> {
    const members = [...new Set([creatorId, ...memberIds])];
    for (const memberId of members) await this.user(memberId);
    const conversation: ConversationInfo = { id: randomUUID() as ConversationId, kind: 'group', name, memberIds: members, createdAt: this.now() };
    await this.store.createConversation(conversation);
    this.announce(conversation, except);
    return conversation;
  }

  /** The user's conversations, most recently active first, each with its newest message (for a preview line). */
  async conversations(userId: UserId): Promise<ConversationInfo[]> {
    const list = await this.store.conversationsOf(userId);
    return Promise.all(
      list.map(async (c) => {
        const [lastMessage] = await this.store.history(c.id, undefined, 1);
        return lastMessage ? { ...c, lastMessage } : c;
      }),
    );
  }

  /** A conversation by id; undefined when there is none. (For the call module.) */
  async conversation(conversationId: ConversationId): Promise<ConversationInfo | undefined> {
    return this.store.conversationById(conversationId);
  }

  /** Whether the user is a member; false for an unknown conversation. (For the call module.) */
  async isMember(conversationId: ConversationId, userId: UserId): Promise<boolean> {
    const conversation = await this.store.conversationById(conversationId);
    return conversation?.memberIds.includes(userId) ?? false;
  }

  // --- messages --------------------------------------------------------------------

  /** Persists a text message from a member and delivers it to every member's online devices. */
  async sendMessage(senderId: UserId, conversationId: ConversationId, text: string, except?: DeviceLink): Promise<ChatMessage> {
    const conversation = await this.memberConversation(conversationId, senderId);
    if (conversation.kind === 'direct') {
      const other = conversation.memberIds.find((u) => u !== senderId)!;
      if (await this.store.isBlocked(other, senderId)) throw new SignalingError('FORBIDDEN', NOT_ACCEPTED);
    }
    return this.append(conversation, { senderId, kind: 'text', text }, except);
  }

  /**
   * Records a call of a conversation: saves it with the call records and appends it as a
   * 'call' message (sender: the initiator), delivered like any message. (For the call module.)
   */
  async appendCallRecord(conversationId: ConversationId, record: CallRecord): Promise<void> {
    const conversation = await this.requireConversation(conversationId);
    await this.store.saveCallRecord(record, conversationId);
    await this.append(conversation, { senderId: record.initiator, kind: 'call', call: record });
  }

  /** Records a call outside any conversation (the loopback self-test). (For the call module.) */
  async saveCallRecord(record: CallRecord): Promise<void> {
    await this.store.saveCallRecord(record, null);
  }

  /** A page of a conversation's messages, oldest first (see `Store.history`); members only. */
  async history(userId: UserId, conversationId: ConversationId, beforeSeq?: number, limit?: number): Promise<ChatMessage[]> {
    const conversation = await this.memberConversation(conversationId, userId);
    const pageSize = Math.min(this.maxHistoryLimit, Math.max(1, limit ?? this.defaultHistoryLimit));
    const page = await this.store.history(conversationId, beforeSeq, pageSize);
    if (conversation.kind !== 'group') return page;
    // In a group, the text of members the user blocked is left out (a page may come back shorter).
    const blocked = new Set((await this.store.blockedBy(userId)).map((u) => u.id));
    return blocked.size === 0 ? page : page.filter((m) => m.kind !== 'text' || !blocked.has(m.senderId));
  }

  private async requireConversation(conversationId: ConversationId): Promise<ConversationInfo> {
    const conversation = await this.store.conversationById(conversationId);
    if (!conversation) throw new SignalingError('NOT_FOUND', `no conversation ${conversationId}`);
    return conversation;
  }

  private async memberConversation(conversationId: ConversationId, userId: UserId): Promise<ConversationInfo> {
    const conversation = await this.requireConversation(conversationId);
    if (!conversation.memberIds.includes(userId)) throw new SignalingError('FORBIDDEN', 'you are not a member of this conversation');
    return conversation;
  }

  private async append(
    conversation: ConversationInfo,
    content: Pick<ChatMessage, 'senderId' | 'kind' | 'text' | 'call'>,
    except?: DeviceLink,
  ): Promise<ChatMessage> {
    const message = await this.store.appendMessage({
      id: randomUUID() as MessageId,
      conversationId: conversation.id,
      ...definedOnly(content),
      sentAt: this.now(),
    });
    const blockers = content.kind === 'text' ? new Set(await this.store.blockersOf(content.senderId)) : new Set<UserId>();
    for (const memberId of conversation.memberIds) if (!blockers.has(memberId)) this.router.sendToUser(memberId, { type: 'message', message }, except);
    return message;
  }

  private announce(conversation: ConversationInfo, except?: DeviceLink): void {
    for (const memberId of conversation.memberIds) this.router.sendToUser(memberId, { type: 'conversation', conversation }, except);
  }
}

/** What someone blocked is told: that it did not go through, not why nor anything about the other user. */
const NOT_ACCEPTED = 'this user does not accept this from you';

function publicInfo(user: UserInfo): UserInfo {
  return { id: user.id, username: user.username, displayName: user.displayName };
}

// Optional fields stay absent rather than undefined, so stored and delivered messages look alike.
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
