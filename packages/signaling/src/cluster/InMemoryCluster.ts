import type { RequestType } from '@roundtable/protocol';
import type { Logger } from '../logger.js';
import { InMemoryRouter } from '../net/InMemoryRouter.js';
import { LocalAttemptCounter, type AttemptCounter } from '../auth/AttemptCounter.js';
import type { AttemptLimits } from '../auth/AttemptLimiter.js';
import type { DeviceLink } from '../net/Router.js';
import type { Cluster, ClusterStats, DeviceRef } from './Cluster.js';

/**
 * One process, nothing shared: this node owns everything, and the local state of the
 * services (CallService's calls, RoomService's rooms) is the whole truth. The embedded default.
 */
export class InMemoryCluster implements Cluster {
  readonly nodeId = 'local';
  readonly shared = false;
  readonly router: InMemoryRouter;

  constructor(options: { logger?: Logger } = {}) {
    this.router = new InMemoryRouter(options.logger ? { logger: options.logger } : {});
  }

  async ownerOf(): Promise<string> {
    return this.nodeId;
  }

  async claim(): Promise<string> {
    return this.nodeId;
  }

  attemptCounter(_name: string, limits: AttemptLimits, now: () => number): AttemptCounter {
    return new LocalAttemptCounter(limits, now);
  }

  sharedRate(): undefined {
    return undefined;
  }

  own(): void {}
  release(): void {}
  saveState(): void {}

  deviceRef(): undefined {
    return undefined;
  }

  linkOf(ref: DeviceRef): { link: DeviceLink; online: boolean } {
    // Nothing is saved in one process, so nothing is adopted.
    throw new Error(`a single-process cluster holds no saved device (${ref.key})`);
  }

  onAdopted(): () => void {
    return () => undefined;
  }

  onDisowned(): () => void {
    return () => undefined;
  }

  setInCall(): void {}
  clearInCall(): void {}

  async inCallElsewhere(): Promise<undefined> {
    return undefined;
  }

  setInRoom(): void {}
  clearInRoom(): void {}

  async roomsElsewhere(): Promise<string[]> {
    return [];
  }

  async forward(node: string, type: RequestType): Promise<unknown> {
    throw new Error(`a single-process cluster has no node '${node}' to run '${type}' on`);
  }

  serve(): void {}

  sessionLoggedOut(): void {}

  onSessionLoggedOut(): () => void {
    return () => undefined;
  }

  async peers(): Promise<number> {
    return 0;
  }

  stats(): ClusterStats {
    return { nodes: 1, forwarded: 0, served: 0 };
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}
