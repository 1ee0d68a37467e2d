import type { Logger } from '../logger.js';
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
