import { z } from 'zod';
import type { ServerManagerEvents } from './events.js';
import { KurentoClientError } from './KurentoClientError.js';
import { RemoteMediaObject } from './RemoteMediaObject.js';
import { serverInfoSchema, type ServerInfo } from './types.js';

/** The server's own object: facts about it, and events on the objects of this session. */
export class ServerManager extends RemoteMediaObject<ServerManagerEvents> {
  static readonly ID = 'manager_ServerManager';

  getInfo(): Promise<ServerInfo> {
    return this.invokeAs(serverInfoSchema, 'getInfo');
  }

  /** Ids of the server's pipelines. */
  getPipelines(): Promise<string[]> {
    return this.invokeAs(z.array(z.string()), 'getPipelines');
  }

  /** Ids of the server's sessions. */
  getSessions(): Promise<string[]> {
    return this.invokeAs(z.array(z.string()), 'getSessions');
  }

  getCpuCount(): Promise<number> {
    return this.invokeAs(z.number().int(), 'getCpuCount');
  }

  /** CPU use in percent, measured over `intervalMs` (server default 1000). */
  getUsedCpu(intervalMs?: number): Promise<number> {
    return this.invokeAs(z.number(), 'getUsedCpu', intervalMs === undefined ? {} : { interval: intervalMs });
  }

  /** Resident memory of the server, in KiB. */
  getUsedMemory(): Promise<number> {
    return this.invokeAs(z.number(), 'getUsedMemory');
  }

  /** The ServerManager belongs to the server: it cannot be released. */
  override async release(): Promise<void> {
    throw new KurentoClientError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', 'the ServerManager cannot be released');
  }
}
