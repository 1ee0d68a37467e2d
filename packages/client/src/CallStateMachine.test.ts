import { CALL_STATES, type CallState } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { CallStateError } from './CallStateError.js';
import { CALL_EVENTS, CallStateMachine, type CallEvent, type CallStateChange } from './CallStateMachine.js';

/** The only valid transitions; every other (state, event) pair must be refused. */
const VALID: Array<[CallState, CallEvent, CallState]> = [
  ['IDLE', 'start', 'OUTGOING'],
  ['IDLE', 'incoming', 'INCOMING'],
  ['OUTGOING', 'answered', 'CONNECTING'],
  ['OUTGOING', 'end', 'IDLE'],
  ['INCOMING', 'answer', 'CONNECTING'],
  ['INCOMING', 'end', 'IDLE'],
  ['CONNECTING', 'mediaConnected', 'CONNECTED'],
  ['CONNECTING', 'end', 'IDLE'],
  ['CONNECTED', 'end', 'IDLE'],
];

/** Events that bring a fresh machine to `state`. */
const PATH: Record<CallState, CallEvent[]> = {
  IDLE: [],
  OUTGOING: ['start'],
  INCOMING: ['incoming'],
  CONNECTING: ['start', 'answered'],
  CONNECTED: ['start', 'answered', 'mediaConnected'],
};

function fire(machine: CallStateMachine, event: CallEvent): void {
  if (event === 'end') machine.end('hangup');
  else machine[event]();
}

function machineIn(state: CallState): CallStateMachine {
  const machine = new CallStateMachine();
  for (const event of PATH[state]) fire(machine, event);
  expect(machine.state).toBe(state);
  return machine;
}

const STATES = Object.keys(CALL_STATES) as CallState[];
const TABLE = STATES.flatMap((state) =>
  CALL_EVENTS.map((event) => {
    const valid = VALID.find(([s, e]) => s === state && e === event);
    return { state, event, to: valid?.[2] };
  }),
);

describe('CallStateMachine', () => {
  it('starts IDLE, not ended, with the seed code 0', () => {
    const machine = new CallStateMachine();
    expect([machine.state, machine.code, machine.ended, machine.endReason]).toEqual(['IDLE', 0, false, undefined]);
  });

  it.each(TABLE.filter((row) => row.to !== undefined))('$event in $state moves to $to and reports the change', ({ state, event, to }) => {
    const machine = machineIn(state);
    const changes: CallStateChange[] = [];
    machine.on('change', (c) => changes.push(c));
    expect(machine.can(event)).toBe(true);

    fire(machine, event);

    expect(machine.state).toBe(to);
    expect(machine.code).toBe(CALL_STATES[to!]);
    expect(changes).toEqual([{ from: state, to, event }]);
  });

  it.each(TABLE.filter((row) => row.to === undefined))('$event in $state throws CallStateError and changes nothing', ({ state, event }) => {
    const machine = machineIn(state);
    const changes: CallStateChange[] = [];
    machine.on('change', (c) => changes.push(c));
    expect(machine.can(event)).toBe(false);

    let error: unknown;
    try {
      fire(machine, event);
    } catch (e) {
      error = e;
    }

    expect(error).toBeInstanceOf(CallStateError);
    expect(error).toMatchObject({ code: 'INVALID_TRANSITION', state, event, ended: false });
    expect(machine.state).toBe(state);
    expect(machine.ended).toBe(false);
    expect(changes).toEqual([]);
  });

  it('the table covers every state and event: 9 valid and 21 invalid transitions', () => {
    expect(TABLE).toHaveLength(STATES.length * CALL_EVENTS.length);
    expect(TABLE.filter((row) => row.to !== undefined)).toHaveLength(9);
  });

  it.each(['OUTGOING', 'INCOMING', 'CONNECTING', 'CONNECTED'] as const)('end() from %s records the reason and emits ended', (state) => {
    const machine = machineIn(state);
    const ended: unknown[] = [];
    machine.on('ended', (e) => ended.push(e));

    machine.end('remoteHangup');

    expect([machine.state, machine.ended, machine.endReason]).toEqual(['IDLE', true, 'remoteHangup']);
    expect(ended).toEqual([{ reason: 'remoteHangup', from: state }]);
  });

  it.each(CALL_EVENTS)('after the call ended, %s throws CallStateError with ended=true', (event) => {
    const machine = machineIn('CONNECTED');
    machine.end('hangup');

    expect(() => fire(machine, event)).toThrow(CallStateError);
    expect(machine.can(event)).toBe(false);
    expect(machine.endReason).toBe('hangup');
  });

  it('history lists the states of a whole call in order', () => {
    const machine = new CallStateMachine();
    machine.incoming();
    machine.answer();
    machine.mediaConnected();
    machine.end('hangup');

    expect(machine.history).toEqual(['IDLE', 'INCOMING', 'CONNECTING', 'CONNECTED', 'IDLE']);
  });

  it('a throwing listener is reported and does not stop the transition or other listeners', () => {
    const reported: string[] = [];
    const machine = new CallStateMachine((event) => reported.push(event));
    const seen: string[] = [];
    machine.on('change', () => {
      throw new Error('bad listener');
    });
    machine.on('change', (c) => seen.push(c.to));

    machine.start();

    expect(machine.state).toBe('OUTGOING');
    expect(seen).toEqual(['OUTGOING']);
    expect(reported).toEqual(['change']);
  });
});
