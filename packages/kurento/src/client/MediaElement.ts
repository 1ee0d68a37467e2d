import { z } from 'zod';
import type { MediaElementEvents } from './events.js';
import { RemoteMediaObject } from './RemoteMediaObject.js';
import { elementConnectionSchema, statsSchema, type ElementConnection, type MediaType, type Stats } from './types.js';

/** Base of everything media flows through: endpoints, PassThrough, hub ports. */
export class MediaElement<E extends MediaElementEvents = MediaElementEvents> extends RemoteMediaObject<E> {
  /** Sends this element's media to `sink`: every media type, or only `mediaType`. */
  async connect(sink: MediaElement, mediaType?: MediaType): Promise<void> {
    await this.invoke('connect', withMediaType({ sink: this.refOf(sink) }, mediaType));
  }

  /** Undoes connect(): every media type, or only `mediaType`. */
  async disconnect(sink: MediaElement, mediaType?: MediaType): Promise<void> {
    await this.invoke('disconnect', withMediaType({ sink: this.refOf(sink) }, mediaType));
  }

  /** Connections that feed this element. */
  getSourceConnections(mediaType?: MediaType): Promise<ElementConnection[]> {
    return this.invokeAs(z.array(elementConnectionSchema), 'getSourceConnections', withMediaType({}, mediaType));
  }

  /** Connections this element feeds. */
  getSinkConnections(mediaType?: MediaType): Promise<ElementConnection[]> {
    return this.invokeAs(z.array(elementConnectionSchema), 'getSinkConnections', withMediaType({}, mediaType));
  }

  /** Counters by stats entry id; elements without their own counters report none. */
  getStats(mediaType?: MediaType): Promise<Stats> {
    return this.invokeAs(statsSchema, 'getStats', withMediaType({}, mediaType));
  }

  /** Whether media of this type is arriving at the element. */
  isMediaFlowingIn(mediaType: MediaType): Promise<boolean> {
    return this.invokeAs(z.boolean(), 'isMediaFlowingIn', { mediaType });
  }

  /** Whether media of this type is leaving the element. */
  isMediaFlowingOut(mediaType: MediaType): Promise<boolean> {
    return this.invokeAs(z.boolean(), 'isMediaFlowingOut', { mediaType });
  }
}

function withMediaType(params: Record<string, unknown>, mediaType: MediaType | undefined): Record<string, unknown> {
  return mediaType === undefined ? params : { ...params, mediaType };
}
