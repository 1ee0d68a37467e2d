import type { ClassDef } from './ClassDef.js';
import type { Session } from './Session.js';

/**
 * One object of the Kurento remote API: a Kurento id and class over a Roundtable
 * engine object (`target`). Kurento-only state (tags, name, properties the engine has
 * no use for) lives here.
 */
export class RemoteObject {
  readonly children = new Set<RemoteObject>();
  readonly tags = new Map<string, string>();
  /** Settable Kurento properties that only need remembering (mtu, rembParams, ...). */
  readonly stored = new Map<string, unknown>();
  readonly creationTime = Math.floor(Date.now() / 1000);
  name: string;
  sendTagsInEvents = false;
  released = false;

  constructor(
    readonly id: string,
    readonly def: ClassDef,
    readonly target: object,
    readonly owner: Session | undefined,
    readonly parent: RemoteObject | undefined,
  ) {
    this.name = id;
  }

  get type(): string {
    return this.def.name;
  }

  /** The MediaPipeline this object lives in (itself for a pipeline). */
  get pipeline(): RemoteObject | undefined {
    if (this.def.name === 'MediaPipeline') return this;
    let current = this.parent;
    while (current && current.def.name !== 'MediaPipeline') current = current.parent;
    return current;
  }
}
