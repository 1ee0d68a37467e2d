import { StringDecoder } from 'node:string_decoder';
import type { WebSocket } from 'ws';
import { KurentoError } from './errors.js';
import { JsonStreamSplitter, requestIdOf } from './jsonrpc.js';
import { WorkBudget, type KurentoLimits } from './limits.js';
import type { Session, SessionOwner } from './Session.js';

export interface ConnectionHandlers {
  /** Runs one request text; resolves with the reply text, if any. */
  handle(conn: Connection, text: string): Promise<string | undefined>;
  /** The connection was cut: its client left more than the bound of replies unread. */
  cut(conn: Connection, unreadBytes: number): void;
  /**
   * Whether a request runs at once, beside the others, instead of in the queue's order
   * (the server's extension methods: a media node's room calls, which wait for media and
   * must not hold up another room's). Default: none does.
   */
  concurrent?(text: string): boolean;
}

interface Frame {
  data: Buffer;
  binary: boolean;
}

/** Bytes of a binary frame decoded and split per step of the reading loop. */
const DECODE_STEP = 64 * 1024;

let nextConnectionId = 1;

/**
 * One client's WebSocket: its frames are split into requests in time slices, the
 * requests wait in a bounded queue for one worker loop that yields to the event loop,
 * and what is written to a client that stops reading is bounded. Nothing here grows
 * with what a client sends: beyond the limits, requests are answered with errors.
 */
export class Connection implements SessionOwner {
  readonly id = nextConnectionId++;
  /** The session this connection created or resumed, and acts for. */
  session: Session | undefined;
  /** A request may span frames, but not grow beyond a frame's size. */
  private readonly splitter: JsonStreamSplitter;
  /** The binary frames are one UTF-8 stream: a character may straddle two frames. */
  private readonly decoder = new StringDecoder('utf8');
  /** Frames received while earlier ones are being split (at most one socket read's worth). */
  private readonly frames: Frame[] = [];
  private readonly queue: string[] = [];
  /** Concurrent requests running (counted against maxQueuedRequests, as the queue is). */
  private running = 0;
  private reading = false;
  private draining = false;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly limits: KurentoLimits,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.splitter = new JsonStreamSplitter(limits.maxFrameBytes);
  }

  get open(): boolean {
    return !this.closed && this.ws.readyState === this.ws.OPEN;
  }

  /** Requests waiting for the worker loop. */
  get queued(): number {
    return this.queue.length;
  }

  /** Sends a reply or an event; a client with too much unread is cut instead. */
  readonly deliver = (message: string): void => {
    if (!this.open) return;
    const unread = this.ws.bufferedAmount;
    if (unread + message.length > this.limits.maxUnreadBytes) {
      this.handlers.cut(this, unread);
      this.ws.terminate();
      this.close();
      return;
    }
    this.ws.send(message);
  };

  /** A WebSocket frame arrived; reading pauses until it is split. */
  onFrame(data: Buffer, binary: boolean): void {
    if (this.closed) return;
    this.frames.push({ data, binary });
    this.ws.pause();
    if (!this.reading) void this.readFrames();
  }

  /** The socket is gone: what waits is dropped. */
  close(): void {
    this.closed = true;
    this.frames.length = 0;
    this.queue.length = 0;
    this.splitter.reset();
  }

  private async readFrames(): Promise<void> {
    this.reading = true;
    const budget = new WorkBudget();
    try {
      for (let frame = this.frames.shift(); frame && !this.closed; frame = this.frames.shift()) {
        // Browsers send one request per text frame; the official client streams binary
        // frames that may hold several requests, or part of one.
        if (!frame.binary) {
          this.accept(frame.data.toString('utf8'));
        } else {
          let count = 0;
          for (let offset = 0; offset < frame.data.length && !this.closed; offset += DECODE_STEP) {
            this.splitter.push(this.decoder.write(frame.data.subarray(offset, offset + DECODE_STEP)));
            for (let text = this.splitter.next(); text !== undefined && !this.closed; text = this.splitter.next()) {
              if (++count <= this.limits.maxFrameRequests) this.accept(text);
              await budget.yieldIfSpent();
            }
            await budget.yieldIfSpent();
          }
          if (count > this.limits.maxFrameRequests) {
            const dropped = count - this.limits.maxFrameRequests;
            this.reply(null, new KurentoError('NOT_ENOUGH_RESOURCES', `a frame may hold at most ${this.limits.maxFrameRequests} requests: ${dropped} of its ${count} were not run`));
          }
        }
        await budget.yieldIfSpent();
      }
    } finally {
      this.reading = false;
      if (!this.closed) this.ws.resume();
    }
  }

  private accept(text: string): void {
    // Pings are answered at once, even while a long request is running.
    if (isPing(text)) {
      void this.handlers.handle(this, text).then((out) => out && this.deliver(out));
      return;
    }
    const concurrent = this.handlers.concurrent?.(text) ?? false;
    if ((concurrent ? this.running : this.queue.length) >= this.limits.maxQueuedRequests) {
      this.reply(requestIdOf(text), new KurentoError('NOT_ENOUGH_RESOURCES', `too many requests waiting (at most ${this.limits.maxQueuedRequests} per connection): retry later`));
      return;
    }
    if (concurrent) {
      this.running++;
      void this.handlers
        .handle(this, text)
        .then((out) => out && this.deliver(out))
        .finally(() => this.running--);
      return;
    }
    this.queue.push(text);
    if (!this.draining) void this.drain();
  }

  /** The worker loop: one request at a time, in order, yielding to the event loop between slices. */
  private async drain(): Promise<void> {
    this.draining = true;
    const budget = new WorkBudget();
    try {
      for (let text = this.queue.shift(); text !== undefined && !this.closed; text = this.queue.shift()) {
        const out = await this.handlers.handle(this, text);
        if (out) this.deliver(out);
        await budget.yieldIfSpent();
      }
    } finally {
      this.draining = false;
    }
  }

  private reply(id: string | number | null, error: KurentoError): void {
    this.deliver(JSON.stringify({ jsonrpc: '2.0', id, error: error.toJson() }));
  }
}

function isPing(text: string): boolean {
  if (text.length > 512 || !text.includes('"ping"')) return false;
  try {
    return (JSON.parse(text) as { method?: unknown } | null)?.method === 'ping';
  } catch {
    return false;
  }
}
