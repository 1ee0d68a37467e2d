import type { CallState } from '@roundtable/protocol';
import type { CallEvent } from './CallStateMachine.js';

/** A transition the call model does not allow from the current state. */
export class CallStateError extends Error {
  readonly code = 'INVALID_TRANSITION';

  constructor(
    readonly state: CallState,
    readonly event: CallEvent,
    /** The call already ended: no transition is allowed any more. */
    readonly ended: boolean,
  ) {
    super(ended ? `the call has ended; '${event}' is not allowed` : `'${event}' is not allowed in state ${state}`);
    this.name = 'CallStateError';
  }
}
