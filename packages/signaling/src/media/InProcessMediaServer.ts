import { Engine, hostAddresses, resolveMediaConfig, singleUdpPort, type MediaConfig, type MediaPipeline, type UdpMux } from '@roundtable/media';
import { silentLogger, type Logger } from '../logger.js';
import { SignalingError } from '../net/Handlers.js';
import { InProcessRoom, type TransportEngine } from './InProcessRoom.js';
import type { MediaRoom, MediaServer, RoomOptions } from './MediaServer.js';

/**
 * The embedded default: rooms are pipelines of this process's media engine. A room
 * serves both words: the bundled ones on a TransportRoom (two transports per
 * participant), the seed's receiveVideoFrom on an endpoint per (participant, sender).
 */
export class InProcessMediaServer implements MediaServer {
  readonly kind = 'in-process';
  private readonly rooms = new Set<InProcessRoom>();
  private transports: Promise<TransportEngine> | undefined;
  /** The media engine of its rooms (its own unless given). */
  readonly engine: Engine;
  private closed = false;

  /**
   * @param config the engine's settings (default: its defaults)
   * @param log where a room listener's failure is logged (default: nowhere)
   * @param engine the media engine its rooms run in: the process's, shared with its other
   *   media users (one owner per UDP port); default: an engine of its own, closed with it
   */
  constructor(
    private readonly config: Partial<MediaConfig> = {},
    private readonly log: Logger = silentLogger,
    engine?: Engine,
  ) {
    this.engine = engine ?? new Engine();
    this.ownEngine = engine === undefined;
  }

  private readonly ownEngine: boolean;

  async createRoom(label: string, options: RoomOptions = {}): Promise<MediaRoom> {
    const room = new InProcessRoom(label, options.audio ?? 'forwarded', this.engine.createPipeline(this.config), () => this.transportEngine(), () => this.rooms.delete(room), this.log);
    this.rooms.add(room);
    return room;
  }

  /** Server transports and endpoints over every room. */
  async connectionCount(): Promise<number> {
    return this.connections;
  }

  /** connectionCount(), at once (for metrics). */
  get connections(): number {
    let n = 0;
    for (const room of this.rooms) n += room.connections;
    return n;
  }

  /** People in the rooms, whichever words they speak. */
  get participantCount(): number {
    let n = 0;
    for (const room of this.rooms) n += room.participants().length;
    return n;
  }

  async ready(): Promise<boolean> {
    return true;
  }

  /** Whether `pipeline` is a room's of this server. */
  holds(pipeline: MediaPipeline): boolean {
    for (const room of this.rooms) if (room.pipeline === pipeline) return true;
    return false;
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  async close(): Promise<void> {
    for (const room of [...this.rooms]) await room.close();
    this.closed = true;
    const transports = this.transports;
    this.transports = undefined;
    if (transports) for (const mux of (await transports.catch(() => undefined))?.muxes ?? []) mux.release();
    if (this.ownEngine) this.engine.close();
  }

  /** The shared port of each ICE address (single-port mode's port) and the certificate, made at the first use. */
  private transportEngine(): Promise<TransportEngine> {
    if (this.closed) return Promise.reject(new SignalingError('INVALID_STATE', 'the media server is closed'));
    this.transports ??= (async () => {
      const config = resolveMediaConfig(this.config);
      const muxes: UdpMux[] = [];
      try {
        for (const address of hostAddresses(config)) muxes.push(await this.engine.sockets.acquire(address, singleUdpPort(config) ?? config.portRange, 'media.udpPort'));
        return { muxes, certificate: await this.engine.certificate(), announcedAddress: config.announcedAddress, bandwidthEstimation: config.bandwidthEstimation };
      } catch (error) {
        for (const mux of muxes) mux.release();
        throw error;
      }
    })();
    const transports = this.transports;
    transports.catch(() => {
      if (this.transports === transports) this.transports = undefined;
    });
    return transports;
  }
}
