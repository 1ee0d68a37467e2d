/**
 * The soak's IM traffic: a few signed-in users in one group conversation; every
 * `everyMs` the next of them sends a message, and every minute one reads the history.
 * Counts messages sent, refused, and delivered to the other members.
 */
import { JsonSocket, PendingRequests } from '../participants/JsonSocket.js';

export interface ImCounts {
  sent: number;
  failed: number;
  /** Deliveries expected: each sent message to each other member. */
  expectedDeliveries: number;
  delivered: number;
  historyReads: number;
  errors: string[];
}

class ImUser {
  private readonly requests = new PendingRequests<number>();
  private nextId = 1;
  userId = '';
  delivered = 0;

  private constructor(private readonly socket: JsonSocket) {}

  static async open(url: string): Promise<ImUser> {
    // Frames may only come once the user exists (nothing is sent before open() returns).
    const holder: { user?: ImUser } = {};
    const socket = await JsonSocket.open(url, undefined, (frame) => holder.user?.onFrame(frame));
    holder.user = new ImUser(socket);
    return holder.user;
  }

  async signIn(username: string): Promise<void> {
    const password = 'soak-password';
    let result: Record<string, unknown> | undefined;
    let type = 'register';
    // As the participants do: a sign-in told to wait (the generator's one address) tries again.
    for (let attempt = 1; result === undefined; attempt++) {
      try {
        result = await this.request(type, { username, password }, 60_000);
      } catch (error) {
        const text = String(error);
        if (type === 'register' && text.includes('CONFLICT')) type = 'login';
        else if (attempt < 30 && (text.includes('TOO_MANY_ATTEMPTS') || text.includes('OVERLOADED') || text.includes('timed out'))) await new Promise((resolve) => setTimeout(resolve, 1000 + Math.random() * 2000));
        else throw error;
      }
    }
    const hello = await this.request('hello', { token: String(result['token']) }, 60_000);
    this.userId = String(hello['userId']);
  }

  async request(type: string, fields: Record<string, unknown>, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const answer = this.requests.wait(id, type, timeoutMs);
    this.socket.send({ id, type, ...fields });
    const response = await answer;
    if (response['ok'] !== true) {
      const error = response['error'] as { code?: string; message?: string } | undefined;
      throw new Error(`${type} failed: ${error?.code ?? '?'} ${error?.message ?? ''}`);
    }
    return (response['result'] ?? {}) as Record<string, unknown>;
  }

  close(): void {
    this.requests.rejectAll(new Error('closed'));
    this.socket.close();
  }

  private onFrame(frame: Record<string, unknown>): void {
    if (typeof frame['id'] === 'number' && 'ok' in frame) {
      this.requests.settle(frame['id'], frame);
      return;
    }
    if (frame['type'] === 'message') {
      const message = frame['message'] as { senderId?: string } | undefined;
      if (message?.senderId !== this.userId) this.delivered++;
    }
  }
}

export class ImTraffic {
  private timer: NodeJS.Timeout | undefined;
  private turn = 0;
  private readonly counts: ImCounts = { sent: 0, failed: 0, expectedDeliveries: 0, delivered: 0, historyReads: 0, errors: [] };
  private lastHistory = Date.now();

  private constructor(
    private readonly users: ImUser[],
    private readonly conversationId: string,
  ) {}

  static async start(url: string, prefix: string, count: number, everyMs: number): Promise<ImTraffic> {
    const users: ImUser[] = [];
    try {
      for (let i = 0; i < count; i++) users.push(await ImUser.open(url));
      await Promise.all(users.map((user, i) => user.signIn(`${prefix}-im${i}`)));
      const [first, ...others] = users;
      const conversation = (await first!.request('conversations.createGroup', { name: `${prefix} chat`, memberIds: others.map((u) => u.userId) })) as { id?: string };
      const traffic = new ImTraffic(users, String(conversation.id));
      traffic.timer = setInterval(() => traffic.tick(), everyMs);
      return traffic;
    } catch (error) {
      for (const u of users) u.close();
      throw error;
    }
  }

  get figures(): ImCounts {
    return { ...this.counts, delivered: this.users.reduce((n, u) => n + u.delivered, 0), errors: this.counts.errors.slice(0, 5) };
  }

  /** Stops sending; the sockets stay open until close(). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    for (const u of this.users) u.close();
  }

  private tick(): void {
    const user = this.users[this.turn++ % this.users.length]!;
    const text = `soak message ${this.turn} at ${new Date().toISOString()}`;
    user.request('messages.send', { conversationId: this.conversationId, text }).then(
      () => {
        this.counts.sent++;
        this.counts.expectedDeliveries += this.users.length - 1;
      },
      (error: unknown) => {
        this.counts.failed++;
        this.counts.errors.push(String(error));
      },
    );
    if (Date.now() - this.lastHistory >= 60_000) {
      this.lastHistory = Date.now();
      user.request('messages.history', { conversationId: this.conversationId, limit: 50 }).then(
        () => this.counts.historyReads++,
        (error: unknown) => this.counts.errors.push(String(error)),
      );
    }
  }
}
