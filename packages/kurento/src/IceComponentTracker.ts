import { TypedEmitter, type WebRtcEndpoint } from '@roundtable/media';

export type IceComponentState = 'DISCONNECTED' | 'GATHERING' | 'CONNECTING' | 'CONNECTED' | 'READY' | 'FAILED';

/**
 * Derives Kurento's IceComponentState sequence from the engine's ICE events:
 * GATHERING when gathering starts, CONNECTING while checking, CONNECTED once a pair
 * works, READY when it works and gathering is done, FAILED / DISCONNECTED at the end.
 */
export class IceComponentTracker extends TypedEmitter<{ state: [IceComponentState] }> {
  private state: IceComponentState | undefined;
  private connected = false;
  private gatheringDone = false;
  private checking = false;

  constructor(ep: WebRtcEndpoint) {
    super();
    ep.on('iceGatheringStarted', () => {
      this.set('GATHERING');
      if (this.checking && !this.connected) this.set('CONNECTING');
    });
    ep.on('iceGatheringDone', () => {
      this.gatheringDone = true;
      if (this.connected) this.set('READY');
    });
    ep.on('iceStateChange', (s) => {
      switch (s) {
        case 'checking':
          // The engine enters checking at negotiation; checks only run once gathering
          // was asked for, so CONNECTING follows GATHERING.
          this.checking = true;
          if (this.state !== undefined) this.set('CONNECTING');
          break;
        case 'connected':
        case 'completed':
          this.connected = true;
          this.set('CONNECTED');
          if (this.gatheringDone) this.set('READY');
          break;
        case 'failed':
          this.connected = false;
          this.set('FAILED');
          break;
        case 'disconnected':
        case 'closed':
          this.connected = false;
          this.set('DISCONNECTED');
          break;
        default:
          break;
      }
    });
  }

  get current(): IceComponentState {
    return this.state ?? 'DISCONNECTED';
  }

  private set(state: IceComponentState): void {
    if (state === this.state) return;
    this.state = state;
    this.emit('state', state);
  }
}
