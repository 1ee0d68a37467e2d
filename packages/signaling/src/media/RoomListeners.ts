import type { Logger } from '../logger.js';
import { SignalingError } from '../net/Handlers.js';
import type { RoomCandidate, RoomLayers, RoomOffer, RoomRecordingResult, RoomSpeakers } from './MediaServer.js';

/** What a MediaRoom tells (onOffer, onCandidate, onSpeakers, onLayers, onRecordingEnded, onClosed), by event. */
export interface RoomEventMap {
  offer: RoomOffer;
  candidate: RoomCandidate;
  speakers: RoomSpeakers;
  layers: RoomLayers;
  recordingEnded: RoomRecordingResult;
  closed: string;
}

type Lists = { [K in keyof RoomEventMap]: Array<(payload: RoomEventMap[K]) => void> };

/**
 * The listeners of one MediaRoom, whichever implementation holds it: a listener that
 * throws is logged and skipped, so one bad listener cannot break the room or the others.
 */
export class RoomListeners {
  private readonly lists: Lists = { offer: [], candidate: [], speakers: [], layers: [], recordingEnded: [], closed: [] };

  constructor(
    private readonly room: string,
    private readonly log: Logger,
  ) {}

  add<K extends keyof RoomEventMap>(event: K, listener: (payload: RoomEventMap[K]) => void): void {
    this.lists[event].push(listener);
  }

  emit<K extends keyof RoomEventMap>(event: K, payload: RoomEventMap[K]): void {
    for (const listener of [...this.lists[event]]) {
      try {
        listener(payload);
      } catch (error) {
        this.log.error({ event: 'mediaRoomListenerFailed', room: this.room, roomEvent: event, err: error }, 'a media room listener threw');
      }
    }
  }
}

/**
 * What every MediaRoom implementation shares: its listeners (the on* methods add, the
 * room tells through `listeners.emit`), and the closed flag its calls check. An event an
 * implementation never has (a Kurento room's speakers) is simply never emitted.
 */
export abstract class ListenedRoom {
  protected readonly listeners: RoomListeners;
  protected closed = false;

  constructor(
    readonly label: string,
    log: Logger,
  ) {
    this.listeners = new RoomListeners(label, log);
  }

  onOffer(listener: (offer: RoomOffer) => void): void {
    this.listeners.add('offer', listener);
  }

  onCandidate(listener: (c: RoomCandidate) => void): void {
    this.listeners.add('candidate', listener);
  }

  onSpeakers(listener: (speakers: RoomSpeakers) => void): void {
    this.listeners.add('speakers', listener);
  }

  onLayers(listener: (layers: RoomLayers) => void): void {
    this.listeners.add('layers', listener);
  }

  onRecordingEnded(listener: (result: RoomRecordingResult) => void): void {
    this.listeners.add('recordingEnded', listener);
  }

  onClosed(listener: (reason: string) => void): void {
    this.listeners.add('closed', listener);
  }

  protected assertOpen(): void {
    if (this.closed) throw new SignalingError('INVALID_STATE', `room ${this.label} is closed`);
  }
}
