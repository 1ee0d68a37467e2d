import type { CallRecord, ConversationId, ConversationInfo, DeviceId, ServerNotification, UserId } from '@roundtable/protocol';
import type { ConversationDirectory } from '../calls/CallService.js';
import type { DeviceLink, Router } from '../net/Router.js';

/** A device link that records what it is sent, for tests of the call logic. */
export class FakeLink implements DeviceLink {
  readonly received: ServerNotification[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly userId: UserId,
    readonly deviceId: DeviceId,
  ) {}

  send(notification: ServerNotification): void {
    this.received.push(notification);
    for (const w of [...this.waiters]) w();
  }

  /** Resolves with the first notification (already received or coming) that matches. */
  waitFor<T extends ServerNotification['type']>(type: T, match: (n: Extract<ServerNotification, { type: T }>) => boolean = () => true, timeoutMs = 10_000): Promise<Extract<ServerNotification, { type: T }>> {
    const find = (): Extract<ServerNotification, { type: T }> | undefined =>
      this.received.find((n): n is Extract<ServerNotification, { type: T }> => n.type === type && match(n as Extract<ServerNotification, { type: T }>));
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.userId}/${this.deviceId}: no '${type}' within ${timeoutMs} ms; got ${this.received.map((n) => n.type).join(', ')}`));
      }, timeoutMs);
      const check = (): void => {
        const n = find();
        if (!n) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(n);
      };
      this.waiters.add(check);
    });
  }

  has(type: ServerNotification['type']): boolean {
    return this.received.some((n) => n.type === type);
  }
}

export class FakeRouter implements Router {
  private readonly links = new Map<UserId, Set<DeviceLink>>();
  private readonly goneListeners = new Set<(link: DeviceLink) => void>();
  private readonly addedListeners = new Set<(link: DeviceLink) => void>();

  connect(userId: string, deviceId = `${userId}-d1`): FakeLink {
    const link = new FakeLink(userId as UserId, deviceId as DeviceId);
    let set = this.links.get(link.userId);
    if (!set) this.links.set(link.userId, (set = new Set()));
    set.add(link);
    for (const l of this.addedListeners) l(link);
    return link;
  }

  disconnect(link: DeviceLink): void {
    this.links.get(link.userId)?.delete(link);
    for (const l of this.goneListeners) l(link);
  }

  devicesOf(userId: UserId): DeviceLink[] {
    return [...(this.links.get(userId) ?? [])];
  }

  sendToUser(userId: UserId, notification: ServerNotification, except?: DeviceLink): number {
    let n = 0;
    for (const link of this.links.get(userId) ?? []) {
      if (link === except) continue;
      link.send(notification);
      n++;
    }
    return n;
  }

  isOnline(userId: UserId): boolean {
    return (this.links.get(userId)?.size ?? 0) > 0;
  }

  onDeviceGone(listener: (link: DeviceLink) => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  onDeviceAdded(listener: (link: DeviceLink) => void): () => void {
    this.addedListeners.add(listener);
    return () => this.addedListeners.delete(listener);
  }
}

/** Conversations and call records in memory. */
export class MemoryDirectory implements ConversationDirectory {
  readonly conversations = new Map<ConversationId, ConversationInfo>();
  readonly records: Array<{ conversationId: ConversationId | null; record: CallRecord }> = [];

  add(kind: 'direct' | 'group', members: string[], id = `c-${this.conversations.size + 1}`): ConversationInfo {
    const c: ConversationInfo = { id: id as ConversationId, kind, name: id, memberIds: members as UserId[], createdAt: Date.now() };
    this.conversations.set(c.id, c);
    return c;
  }

  async conversation(id: ConversationId): Promise<ConversationInfo | undefined> {
    return this.conversations.get(id);
  }

  async appendCallRecord(conversationId: ConversationId, record: CallRecord): Promise<void> {
    this.records.push({ conversationId, record });
  }

  async saveCallRecord(record: CallRecord): Promise<void> {
    this.records.push({ conversationId: null, record });
  }

  /** How calls reach a callee, by `${callee} ${caller}`; absent: 'ring'. */
  readonly policies = new Map<string, 'ring' | 'request' | 'blocked'>();

  async callPolicy(calleeId: UserId, callerId: UserId): Promise<'ring' | 'request' | 'blocked'> {
    return this.policies.get(`${calleeId} ${callerId}`) ?? 'ring';
  }
}
