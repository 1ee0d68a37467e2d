import { MediaError, type Engine, type MediaConfig, type MediaPipeline, type WebRtcEndpoint } from '@roundtable/media';
import { MessageQueue } from '@roundtable/signaling';
import type { Logger } from 'pino';
import { MessageError, ServerError } from './errors.js';
import { parseClientMessage, type ClientMessage, type ClientMessageId, type ClientMessageOf, type ServerMessage } from './loopbackProtocol.js';

export interface LoopbackSessionOptions {
  /** Settings for the session's `MediaPipeline`. */
  media: Partial<MediaConfig>;
  /** The media engine the pipeline is made in. */
  engine: Engine;
  /** Delivers a message to the client; the session never sends anything else. */
  send: (message: ServerMessage) => void;
  logger: Logger;
  /** Messages that may wait while one is handled; more are refused. Default 32. */
  maxQueuedMessages?: number;
}

type Handler<K extends ClientMessageId> = (message: ClientMessageOf<K>) => Promise<void>;

/**
 * One WebSocket client of the loopback page. `start` creates a MediaPipeline with a
 * WebRtcEndpoint connected to itself, so the browser gets back what it sends. The
 * session owns that pipeline and closes it on `stop`, on a failed `start` and on
 * `close()`.
 *
 * Messages are handled one at a time, in arrival order, so a candidate sent right
 * after the offer is applied only once the offer has been processed. They wait in a
 * bounded queue: beyond `maxQueuedMessages`, `receive` refuses them.
 */
export class LoopbackSession {
  private pipeline: MediaPipeline | undefined;
  private endpoint: WebRtcEndpoint | undefined;
  private closed = false;
  private readonly queue: MessageQueue<ClientMessage>;

  private readonly handlers: { [K in ClientMessageId]: Handler<K> } = {
    start: (message) => this.start(message.sdpOffer),
    onIceCandidate: (message) => this.addIceCandidate(message.candidate),
    stop: async () => this.stop(),
  };

  constructor(private readonly options: LoopbackSessionOptions) {
    // dispatch() never rejects.
    this.queue = new MessageQueue({ capacity: options.maxQueuedMessages ?? 32, handle: (message) => this.dispatch(message) });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Takes one text frame from the client. A bad message gets an `error` reply and
   * changes nothing. Returns false when the message was refused because too many wait
   * (the caller answers and counts it); true otherwise.
   */
  receive(text: string): boolean {
    if (this.closed) return true;
    let message: ClientMessage;
    try {
      message = parseClientMessage(text);
    } catch (error) {
      this.replyError(error);
      return true;
    }
    return this.queue.push(message);
  }

  /** Closes the pipeline, if any. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.close();
    this.releasePipeline();
  }

  private async dispatch<K extends ClientMessageId>(message: ClientMessageOf<K>): Promise<void> {
    if (this.closed) return;
    const handler = this.handlers[message.id] as Handler<K>;
    try {
      await handler(message);
    } catch (error) {
      this.replyError(error);
    }
  }

  private async start(sdpOffer: string): Promise<void> {
    if (this.pipeline) throw new ServerError('INVALID_STATE', "a loopback is already running; send 'stop' first");
    const pipeline = this.options.engine.createPipeline(this.options.media);
    this.pipeline = pipeline;
    try {
      const endpoint = pipeline.createWebRtcEndpoint();
      this.endpoint = endpoint;
      endpoint.on('iceCandidate', (c) => {
        if (this.endpoint !== endpoint || this.closed) return;
        this.options.send({ id: 'iceCandidate', candidate: { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } });
      });
      endpoint.on('connectionStateChange', (state) => {
        this.options.logger.info({ event: 'connectionStateChange', pipelineId: pipeline.id, elementId: endpoint.id, state }, 'loopback endpoint state');
      });
      endpoint.connect(endpoint);
      const sdpAnswer = await endpoint.processOffer(sdpOffer);
      if (this.pipeline !== pipeline) return; // closed while the offer was processed
      this.options.send({ id: 'startResponse', sdpAnswer });
      this.options.logger.info({ event: 'loopbackStarted', pipelineId: pipeline.id, elementId: endpoint.id }, 'loopback started');
      await endpoint.gatherCandidates();
    } catch (error) {
      // A failed start leaves the session as it was: idle, with nothing open.
      if (this.pipeline === pipeline) this.releasePipeline();
      else pipeline.close();
      throw error;
    }
  }

  private async addIceCandidate(candidate: ClientMessageOf<'onIceCandidate'>['candidate']): Promise<void> {
    const endpoint = this.endpoint;
    if (!endpoint) throw new ServerError('INVALID_STATE', "no loopback is running; send 'start' first");
    await endpoint.addIceCandidate({
      candidate: candidate.candidate,
      sdpMid: candidate.sdpMid ?? null,
      sdpMLineIndex: candidate.sdpMLineIndex ?? null,
    });
  }

  private stop(): void {
    const pipeline = this.pipeline;
    if (!pipeline) return;
    this.releasePipeline();
    this.options.logger.info({ event: 'loopbackStopped', pipelineId: pipeline.id }, 'loopback stopped');
  }

  private releasePipeline(): void {
    const pipeline = this.pipeline;
    this.pipeline = undefined;
    this.endpoint = undefined;
    pipeline?.close();
  }

  private replyError(error: unknown): void {
    if (this.closed) return;
    if (error instanceof MessageError || error instanceof ServerError || error instanceof MediaError) {
      this.options.logger.info({ event: 'requestFailed', code: error.code, reason: error.message }, 'request failed');
      this.options.send({ id: 'error', message: error.message });
      return;
    }
    this.options.logger.error({ event: 'requestFailed', err: error }, 'unexpected error while handling a message');
    this.options.send({ id: 'error', message: 'internal server error' });
  }
}
