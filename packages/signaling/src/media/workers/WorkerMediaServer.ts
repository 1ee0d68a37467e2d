import { availableParallelism } from 'node:os';
import type { EngineStats, MediaConfig } from '@roundtable/media';
import { silentLogger, type Logger } from '../../logger.js';
import { SignalingError } from '../../net/Handlers.js';
import type { MediaRoom, MediaServer, RoomOptions } from '../MediaServer.js';
import { MediaWorker } from './MediaWorker.js';
import { splitMediaPorts, type WorkerPorts } from './portSplit.js';
import { RoomProxy } from '../rooms/RoomProxy.js';
import type { RoomEvent } from '../rooms/roomCalls.js';

export interface WorkerMediaServerOptions {
  /** Media engine settings; the port range (and single port) are split between the workers. Default: the engine's defaults. */
  media?: Partial<MediaConfig>;
  /** How many worker threads. Default: `os.availableParallelism()`; ignored when `ports` is given. */
  workers?: number;
  /**
   * Each worker's ports, one entry per worker (the composition root keeps a share of the
   * range for the main thread's engine this way). Default: `splitMediaPorts(media, workers)`.
   */
  ports?: WorkerPorts[];
  /** Where worker crashes and restarts are logged. Default: nowhere. */
  logger?: Logger;
  /** A worker that does not answer a ping this long (ms) is ended as hung and replaced. Default 15000; 0: never. */
  unresponsiveMs?: number;
}

/** One worker's share of the load, for /metrics and /readyz. */
export interface MediaWorkerStats {
  index: number;
  ready: boolean;
  rooms: number;
  participants: number;
  /** How many times this worker was replaced after it stopped. */
  restarts: number;
}

/** The first restart after a worker that stopped young waits this long; doubled each time, at most RESTART_MAX_MS. */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A worker that ran this long before stopping is replaced at once. */
const STABLE_MS = 10_000;

/** A place for a worker: its ports, the worker now in it, and the rooms that worker holds. */
interface Slot {
  index: number;
  ports: WorkerPorts;
  worker: MediaWorker;
  rooms: Set<RoomProxy>;
  restarts: number;
  restartDelayMs: number;
  restartTimer?: NodeJS.Timeout;
}

/**
 * Rooms on media worker threads: each worker runs its own media engine (an
 * InProcessMediaServer with its own slice of the UDP ports), signaling stays on this
 * thread. A new room goes to the worker with the fewest participants (then the fewest
 * rooms), and stays there. When a worker stops (crash, exit, out of memory, or hung: no
 * answer to a ping for `unresponsiveMs`), its rooms are lost: their pending calls reject,
 * their onClosed listeners are told why, the other workers' rooms carry on, and a new
 * worker takes its place for new rooms.
 */
export class WorkerMediaServer implements MediaServer {
  readonly kind = 'workers';
  private readonly slots: Slot[] = [];
  private readonly rooms = new Map<number, RoomProxy>();
  private readonly log: Logger;
  private readonly media: Partial<MediaConfig>;
  private readonly unresponsiveMs: number | undefined;
  private nextRoomId = 1;
  private closed = false;

  private constructor(options: WorkerMediaServerOptions) {
    this.log = options.logger ?? silentLogger;
    this.media = options.media ?? {};
    this.unresponsiveMs = options.unresponsiveMs;
    const shares = options.ports ?? splitMediaPorts(this.media, options.workers ?? availableParallelism());
    if (shares.length === 0) throw new RangeError('a WorkerMediaServer needs at least one worker');
    shares.forEach((ports, index) => {
      const slot: Slot = { index, ports, rooms: new Set(), restarts: 0, restartDelayMs: RESTART_MIN_MS } as Slot;
      slot.worker = this.spawn(slot);
      this.slots.push(slot);
    });
  }

  /** Starts the workers; resolves once every one answers calls (rejects, after stopping them, if one cannot start). */
  static async start(options: WorkerMediaServerOptions = {}): Promise<WorkerMediaServer> {
    const server = new WorkerMediaServer(options);
    try {
      await Promise.all(server.slots.map((slot) => slot.worker.started));
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  get workerCount(): number {
    return this.slots.length;
  }

  async createRoom(label: string, options: RoomOptions = {}): Promise<MediaRoom> {
    if (this.closed) throw new SignalingError('INVALID_STATE', 'the media server is closed');
    const slot = this.leastLoaded();
    if (!slot) throw new SignalingError('MEDIA_ERROR', 'no media worker is running (they are being restarted)');
    const id = this.nextRoomId++;
    const worker = slot.worker;
    const audio = options.audio ?? 'forwarded';
    const room = new RoomProxy(id, label, audio, worker.rooms, this.log, (gone) => {
      this.rooms.delete(gone.id);
      slot.rooms.delete(gone);
    });
    // Counted at once, so that rooms created together spread over the workers.
    this.rooms.set(id, room);
    slot.rooms.add(room);
    try {
      await worker.call('createRoom', { roomId: id, label, options: { audio } });
    } catch (error) {
      this.rooms.delete(id);
      slot.rooms.delete(room);
      throw error;
    }
    this.log.debug({ event: 'mediaRoomPlaced', room: label, worker: slot.index }, 'room placed on a media worker');
    return room;
  }

  async ready(): Promise<boolean> {
    return !this.closed && this.slots.some((slot) => slot.worker.ready);
  }

  /** Each worker's load. */
  stats(): MediaWorkerStats[] {
    return this.slots.map((slot) => ({
      index: slot.index,
      ready: slot.worker.ready,
      rooms: slot.rooms.size,
      participants: participantsOf(slot),
      restarts: slot.restarts,
    }));
  }

  /** The engine totals of every running worker, for /metrics (a worker that does not answer counts for nothing). */
  async engineStats(): Promise<EngineStats[]> {
    const running = this.slots.filter((slot) => slot.worker.ready);
    const stats = await Promise.all(running.map((slot) => slot.worker.call('engineStats', {}).catch(() => undefined)));
    return stats.filter((s): s is EngineStats => s !== undefined);
  }

  /** The worker that holds a room of this server (for tests and diagnostics). */
  workerOf(room: MediaRoom): number | undefined {
    return this.slots.find((slot) => [...slot.rooms].some((r) => r === room))?.index;
  }

  /**
   * Makes worker `index` throw an uncaught error, as a bug in the media engine would: its
   * rooms are lost and it is replaced. For crash drills and tests.
   */
  simulateCrash(index: number, message = 'simulated crash'): Promise<unknown> {
    const slot = this.slots[index];
    if (!slot) throw new RangeError(`there is no media worker ${index}`);
    return slot.worker.call('crash', { message });
  }

  /**
   * Ends worker `index`'s thread from outside at once (Worker.terminate(), the nearest a
   * thread comes to SIGKILL): nothing in it runs again, not even its error handling. Its
   * rooms are lost and it is replaced, as after a crash. For drills and tests.
   */
  simulateKill(index: number): void {
    const slot = this.slots[index];
    if (!slot) throw new RangeError(`there is no media worker ${index}`);
    slot.worker.kill('killed');
  }

  /** Makes worker `index` loop for good, as an endless loop in the engine would: it is ended as hung and replaced. For drills and tests. */
  simulateHang(index: number): Promise<unknown> {
    const slot = this.slots[index];
    if (!slot) throw new RangeError(`there is no media worker ${index}`);
    return slot.worker.call('hang', {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots) if (slot.restartTimer) clearTimeout(slot.restartTimer);
    await Promise.all(this.slots.map((slot) => slot.worker.close()));
    this.rooms.clear();
    for (const slot of this.slots) slot.rooms.clear();
  }

  private leastLoaded(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (!slot.worker.ready) continue;
      if (!best) best = slot;
      else {
        const [p, bp] = [participantsOf(slot), participantsOf(best)];
        if (p < bp || (p === bp && slot.rooms.size < best.rooms.size)) best = slot;
      }
    }
    return best;
  }

  private spawn(slot: Slot): MediaWorker {
    const media = { ...this.media, ...slot.ports } as Record<string, unknown>;
    const worker: MediaWorker = new MediaWorker(
      slot.index,
      { index: slot.index, media },
      {
        onEvent: (message) => this.onEvent(message),
        onStopped: (reason) => this.onStopped(slot, worker, reason),
      },
      this.unresponsiveMs === undefined ? {} : { unresponsiveMs: this.unresponsiveMs },
    );
    return worker;
  }

  private onEvent(event: RoomEvent): void {
    this.rooms.get(event.roomId)?.event(event);
  }

  private onStopped(slot: Slot, worker: MediaWorker, cause: string): void {
    const reason = `media worker ${slot.index} stopped: ${cause}`;
    const lost = [...slot.rooms];
    this.log.error({ event: 'mediaWorkerStopped', worker: slot.index, reason: cause, rooms: lost.map((r) => r.label) }, reason);
    slot.rooms.clear();
    for (const room of lost) {
      this.rooms.delete(room.id);
      room.lost(reason);
    }
    if (this.closed) return;
    // A worker that dies young (it cannot start, or crashes at once) is not restarted in a tight loop.
    const young = Date.now() - worker.startedAt < STABLE_MS;
    const delay = young ? slot.restartDelayMs : 0;
    slot.restartDelayMs = young ? Math.min(slot.restartDelayMs * 2, RESTART_MAX_MS) : RESTART_MIN_MS;
    // The replacement binds the same ports: it starts once the old thread has released them.
    void worker.exited.then(() => {
      if (this.closed || slot.worker !== worker) return;
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        if (this.closed) return;
        slot.restarts++;
        slot.worker = this.spawn(slot);
        slot.worker.started.then(
          () => this.log.info({ event: 'mediaWorkerRestarted', worker: slot.index, restarts: slot.restarts }, `media worker ${slot.index} restarted`),
          () => undefined,
        );
      }, delay);
    });
  }
}

function participantsOf(slot: Slot): number {
  let n = 0;
  for (const room of slot.rooms) n += room.participantCount;
  return n;
}
