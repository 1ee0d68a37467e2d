import { randomUUID } from 'node:crypto';
import { ClosedError } from './errors.js';
import { TypedEmitter, type EventMap } from './TypedEmitter.js';
import type { ElementId } from './types.js';

export interface MediaObjectEvents extends EventMap {
  closed: [];
}

/**
 * Base of every media object: an id, a name, tags, a parent, an idempotent close().
 * Using a closed object throws ClosedError.
 */
export abstract class MediaObject<E extends MediaObjectEvents = MediaObjectEvents> extends TypedEmitter<E> {
  readonly id: ElementId;
  readonly createdAt = Date.now();
  name: string;
  readonly tags = new Map<string, string>();
  private isClosed = false;

  protected constructor(
    readonly typeName: string,
    readonly parent: MediaObject | undefined,
  ) {
    super();
    this.id = `${randomUUID()}_${typeName}` as ElementId;
    this.name = this.id;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    try {
      this.onClose();
    } finally {
      (this as TypedEmitter<MediaObjectEvents>).emit('closed');
      this.removeAllListeners();
    }
  }

  protected assertOpen(): void {
    if (this.isClosed) throw new ClosedError(`${this.typeName} ${this.id}`);
  }

  /** Releases what the object owns; called once by close(). */
  protected abstract onClose(): void;
}
