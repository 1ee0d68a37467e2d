import { KurentoServer } from '@roundtable/kurento';
import type { MediaConfig } from '@roundtable/media';
import type { MediaRoom, MediaServer, RoomOptions } from '../media/MediaServer.js';
import { MediaNodeRooms } from '../media/nodes/MediaNodeRooms.js';
import { RemoteMediaServer } from '../media/RemoteMediaServer.js';

/**
 * A media node in this process (a Kurento Protocol endpoint with the room calls, as
 * `roundtable start --role media` serves them) and a RemoteMediaServer connected to it:
 * close() ends all three.
 */
export class MediaNodeHarness implements MediaServer {
  readonly kind = 'remote';

  private constructor(
    readonly remote: RemoteMediaServer,
    readonly node: MediaNodeRooms,
    readonly kurento: KurentoServer,
  ) {}

  static async start(media: Partial<MediaConfig>): Promise<MediaNodeHarness> {
    const node = new MediaNodeRooms(media);
    const kurento = new KurentoServer({ port: 0, media, extensions: node.extensions });
    const { url } = await kurento.listen();
    return new MediaNodeHarness(await RemoteMediaServer.connect({ url }), node, kurento);
  }

  createRoom(label: string, options?: RoomOptions): Promise<MediaRoom> {
    return this.remote.createRoom(label, options);
  }

  ready(): Promise<boolean> {
    return this.remote.ready();
  }

  async close(): Promise<void> {
    await this.remote.close();
    await this.kurento.close();
    await this.node.close();
  }
}
