import { randomUUID } from 'node:crypto';
import type { CallRecord, ChatMessage, ContactInfo, ConversationId, ConversationInfo, MessageId, UserId, UserInfo } from '@roundtable/protocol';
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

  /** Adds `contactId` to the user's contacts (one way, idempotent). */
  async addContact(userId: UserId, contactId: UserId): Promise<UserInfo> {
    if (contactId === userId) throw new SignalingError('BAD_REQUEST', 'you cannot add yourself as a contact');
    const contact = await this.user(contactId);
    await this.store.addContact(userId, contactId);
    return contact;
  }

  /** The user's contacts, each with whether they are online now. */
  async contacts(userId: UserId): Promise<ContactInfo[]> {
    return (await this.store.contactsOf(userId)).map((u) => ({ ...publicInfo(u), online: this.router.isOnline(u.id) }));
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
    await this.memberConversation(conversationId, userId);
    const pageSize = Math.min(this.maxHistoryLimit, Math.max(1, limit ?? this.defaultHistoryLimit));
    return this.store.history(conversationId, beforeSeq, pageSize);
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
    for (const memberId of conversation.memberIds) this.router.sendToUser(memberId, { type: 'message', message }, except);
    return message;
  }

  private announce(conversation: ConversationInfo, except?: DeviceLink): void {
    for (const memberId of conversation.memberIds) this.router.sendToUser(memberId, { type: 'conversation', conversation }, except);
  }
}

function publicInfo(user: UserInfo): UserInfo {
  return { id: user.id, username: user.username, displayName: user.displayName };
}

// Optional fields stay absent rather than undefined, so stored and delivered messages look alike.
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
