/**
 * The pre-join step: before a call starts or a room is joined, the user sees their
 * camera, a microphone level and the devices, and picks muted / camera off. AppState
 * asks (`PreJoinRequest`), the PreJoin screen answers with the opened stream and the
 * choices, or null (cancelled). Whether to show it is a preference kept in localStorage.
 */
export interface PreJoinChoice {
  /** Opened with the chosen devices; the call takes it over. */
  stream: MediaStream;
  muted: boolean;
  cameraOff: boolean;
}

export interface PreJoinRequest {
  kind: 'call' | 'room';
  /** Who is called, or the room's name. */
  title: string;
  audioOnly: boolean;
  settle(choice: PreJoinChoice | null): void;
}

export const PREJOIN_PREFERENCE_KEY = 'roundtable.prejoin';

/** Default true: the pre-join screen shows before every call and room. */
export function prejoinWanted(): boolean {
  try {
    return globalThis.localStorage?.getItem(PREJOIN_PREFERENCE_KEY) !== 'off';
  } catch {
    return true; // storage disabled: the default
  }
}

export function setPrejoinWanted(wanted: boolean): void {
  try {
    globalThis.localStorage?.setItem(PREJOIN_PREFERENCE_KEY, wanted ? 'on' : 'off');
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}
