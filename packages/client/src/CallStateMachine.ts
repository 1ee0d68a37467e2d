import { CALL_STATES, type CallState, type EndReason } from '@roundtable/protocol';
import { CallStateError } from './CallStateError.js';
import { TypedEmitter, type ListenerErrorReporter } from './TypedEmitter.js';

/** What can happen to a call, as seen from one device. */
export type CallEvent = 'start' | 'incoming' | 'answer' | 'answered' | 'mediaConnected' | 'end';

export const CALL_EVENTS: readonly CallEvent[] = ['start', 'incoming', 'answer', 'answered', 'mediaConnected', 'end'];

/**
 * The transitions of the seed's call model. `end` is allowed from every state but IDLE
 * and leads back to IDLE; a machine that ended takes no further transition (a call is
 * one-shot: a new call gets a new machine).
 */
const TRANSITIONS: Readonly<Record<CallState, Partial<Record<CallEvent, CallState>>>> = {
  IDLE: { start: 'OUTGOING', incoming: 'INCOMING' },
  OUTGOING: { answered: 'CONNECTING', end: 'IDLE' },
  INCOMING: { answer: 'CONNECTING', end: 'IDLE' },
  CONNECTING: { mediaConnected: 'CONNECTED', end: 'IDLE' },
  CONNECTED: { end: 'IDLE' },
};

export interface CallStateChange {
  from: CallState;
  to: CallState;
  event: CallEvent;
}

export interface CallStateMachineEvents {
  [key: string]: unknown;
  change: CallStateChange;
  ended: { reason: EndReason; from: CallState };
}

/** The call states IDLE/OUTGOING/INCOMING/CONNECTING/CONNECTED with explicit, checked transitions. Pure: no I/O, no timers. */
export class CallStateMachine extends TypedEmitter<CallStateMachineEvents> {
  private current: CallState = 'IDLE';
  private reason: EndReason | undefined;
  private readonly visited: CallState[] = ['IDLE'];

  constructor(reportError?: ListenerErrorReporter) {
    super(reportError);
  }

  get state(): CallState {
    return this.current;
  }

  /** The seed's numeric code of the state (IDLE 0 ... CONNECTED 4). */
  get code(): number {
    return CALL_STATES[this.current];
  }

  /** Why the call ended; undefined until it has. */
  get endReason(): EndReason | undefined {
    return this.reason;
  }

  get ended(): boolean {
    return this.reason !== undefined;
  }

  /** Every state the call has been in, in order, starting with IDLE. */
  get history(): readonly CallState[] {
    return this.visited;
  }

  /** Whether `event` is allowed now (without changing anything). */
  can(event: CallEvent): boolean {
    return !this.ended && TRANSITIONS[this.current][event] !== undefined;
  }

  start(): void {
    this.apply('start');
  }

  incoming(): void {
    this.apply('incoming');
  }

  /** This device accepted an incoming call. */
  answer(): void {
    this.apply('answer');
  }

  /** The other side accepted our outgoing call. */
  answered(): void {
    this.apply('answered');
  }

  mediaConnected(): void {
    this.apply('mediaConnected');
  }

  end(reason: EndReason): void {
    const from = this.current;
    this.apply('end', () => (this.reason = reason));
    this.emit('ended', { reason, from });
  }

  private apply(event: CallEvent, before?: () => void): void {
    const to = this.ended ? undefined : TRANSITIONS[this.current][event];
    if (to === undefined) throw new CallStateError(this.current, event, this.ended);
    const from = this.current;
    before?.();
    this.current = to;
    this.visited.push(to);
    this.emit('change', { from, to, event });
  }
}
