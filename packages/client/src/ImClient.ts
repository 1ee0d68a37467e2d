import type { CallRecord, ChatMessage, ConversationId, ConversationInfo, ServerNotification, UserId, UserInfo, UserSettings } from '@roundtable/protocol';
import type { SignalingConnection } from './SignalingConnection.js';
import { TypedEmitter, type ListenerErrorReporter } from './TypedEmitter.js';

export type ImEvents = {
  /**
   * A new message in one of your conversations, text or call record (`kind`), for the
   * timeline: yours from other devices included, not the ones this device sent (their
   * stored form is what sendMessage() resolves with).
   */
  message: { message: ChatMessage };
  /** A call ended and its record landed in a conversation (it also comes as a `message` of kind 'call'). */
  callRecord: { conversationId: ConversationId; record: CallRecord; message: ChatMessage };
  /** A conversation you are a member of was made (by you on another device, or by someone else). */
  conversation: { conversation: ConversationInfo };
  /** Your contact list changed through this device (a request you accepted, or one of yours the other side had already made). */
  contactsChanged: { contacts: UserInfo[] };
  /** Someone asks to become your contact: acceptContact() or declineContact(). */
  contactRequest: { from: UserInfo };
  /** You and `user` are contacts now: they accepted your request (or you accepted theirs on another device). */
  contactAccepted: { user: UserInfo };
};

/**
 * The IM half of the SDK: typed requests for users, contacts, conversations and messages,
 * and typed events for what the server pushes, so an app never parses notifications.
 */
export class ImClient extends TypedEmitter<ImEvents> {
  constructor(
    private readonly signaling: SignalingConnection,
    reportError: ListenerErrorReporter,
  ) {
    super(reportError);
    signaling.on('notification', (n) => this.onNotification(n));
  }

  /** A user by exact username (NOT_FOUND otherwise). */
  findUser(username: string): Promise<UserInfo> {
    return this.signaling.request('users.find', { username });
  }

  /** The users among these ids that exist (to name group members who are not contacts). */
  async users(userIds: UserId[]): Promise<UserInfo[]> {
    if (userIds.length === 0) return [];
    return this.signaling.request('users.get', { userIds });
  }

  contacts(): Promise<UserInfo[]> {
    return this.signaling.request('contacts.list');
  }

  /**
   * Asks `userId` to become a contact: 'requested' until they accept (you then get
   * `contactAccepted`), or 'contacts' at once when they had asked you. Idempotent.
   * Someone who blocked you: FORBIDDEN.
   */
  async addContact(userId: UserId): Promise<'requested' | 'contacts'> {
    const { status } = await this.signaling.request('contacts.add', { userId });
    if (status === 'contacts') this.emit('contactsChanged', { contacts: await this.contacts() });
    return status;
  }

  /** Requests to you (accept or decline them) and yours that wait for an answer. */
  contactRequests(): Promise<{ incoming: UserInfo[]; outgoing: UserInfo[] }> {
    return this.signaling.request('contacts.requests');
  }

  /** Accepts `userId`'s request: you are each other's contacts. Resolves with the new list. */
  async acceptContact(userId: UserId): Promise<UserInfo[]> {
    await this.signaling.request('contacts.accept', { userId });
    const contacts = await this.contacts();
    this.emit('contactsChanged', { contacts });
    return contacts;
  }

  /** Declines `userId`'s request (they are not told). */
  async declineContact(userId: UserId): Promise<void> {
    await this.signaling.request('contacts.decline', { userId });
  }

  /** Blocks `userId`: their calls, messages and contact requests no longer reach you. Idempotent. */
  async block(userId: UserId): Promise<void> {
    await this.signaling.request('blocks.add', { userId });
  }

  async unblock(userId: UserId): Promise<void> {
    await this.signaling.request('blocks.remove', { userId });
  }

  /** The users you blocked. */
  blocked(): Promise<UserInfo[]> {
    return this.signaling.request('blocks.list');
  }

  /** Your settings (e.g. whether calls from non-contacts ring or come as requests). */
  settings(): Promise<UserSettings> {
    return this.signaling.request('settings.get');
  }

  /** Changes the settings given; resolves with all of them. */
  updateSettings(patch: Partial<UserSettings>): Promise<UserSettings> {
    return this.signaling.request('settings.set', patch);
  }

  /** Your conversations, most recently active first. */
  conversations(): Promise<ConversationInfo[]> {
    return this.signaling.request('conversations.list');
  }

  /** The 1:1 conversation with `userId` (made on first use). */
  directConversation(userId: UserId): Promise<ConversationInfo> {
    return this.signaling.request('conversations.direct', { userId });
  }

  /** A group conversation of you and `memberIds`. */
  createGroup(name: string, memberIds: UserId[]): Promise<ConversationInfo> {
    return this.signaling.request('conversations.createGroup', { name, memberIds });
  }

  /** Sends a text message; resolves with it as stored (with its seq). */
  sendMessage(conversationId: ConversationId, text: string): Promise<ChatMessage> {
    return this.signaling.request('messages.send', { conversationId, text });
  }

  /** A page of history, oldest first: the latest `limit` (default 50, at most 100), or those before `beforeSeq`. */
  history(conversationId: ConversationId, options: { beforeSeq?: number; limit?: number } = {}): Promise<ChatMessage[]> {
    return this.signaling.request('messages.history', { conversationId, ...options });
  }

  private onNotification(n: ServerNotification): void {
    if (n.type === 'message') {
      const { message } = n;
      this.emit('message', { message });
      if (message.kind === 'call' && message.call) this.emit('callRecord', { conversationId: message.conversationId, record: message.call, message });
    } else if (n.type === 'conversation') {
      this.emit('conversation', { conversation: n.conversation });
    } else if (n.type === 'contact.request') {
      this.emit('contactRequest', { from: n.from });
    } else if (n.type === 'contact.accepted') {
      this.emit('contactAccepted', { user: n.user });
    }
  }
}
