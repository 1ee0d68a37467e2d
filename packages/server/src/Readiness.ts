/**
 * What `GET /readyz` reports: named checks, each saying 'ok' or what is wrong. The
 * server is ready when every check passes and it is not shutting down.
 */
import { hostAddresses, type Engine, type MediaConfig, type MediaPipeline } from '@roundtable/media';
import type { Signaling } from '@roundtable/signaling';

/** Resolves undefined when the thing checked is usable, or a reason when it is not. */
export type ReadinessCheck = () => Promise<string | undefined>;

export interface ReadinessReport {
  ready: boolean;
  /** Each check by name: 'ok', or what is not ready. */
  checks: Record<string, string>;
}

export interface ReadinessOptions {
  /** A check that has not answered by then counts as not ready. Default 2000 ms. */
  checkTimeoutMs?: number;
}

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly checkTimeoutMs: number;
  private shuttingDown = false;

  constructor(options: ReadinessOptions = {}) {
    this.checkTimeoutMs = options.checkTimeoutMs ?? 2000;
  }

  /** Adds a check; a name is used once. */
  add(name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) throw new Error(`readiness check '${name}' exists already`);
    this.checks.set(name, check);
  }

  /** From now on the server reports not ready (load balancers stop sending it clients). */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  /** Runs every check at once; none throws or takes longer than `checkTimeoutMs`. */
  async report(): Promise<ReadinessReport> {
    const names = [...this.checks.keys()];
    const results = await Promise.all([...this.checks.values()].map((check) => withTimeout(check, this.checkTimeoutMs)));
    const checks: Record<string, string> = {};
    names.forEach((name, i) => (checks[name] = results[i] ?? 'ok'));
    if (this.shuttingDown) checks['server'] = 'shutting down';
    return { ready: Object.values(checks).every((value) => value === 'ok'), checks };
  }
}

async function withTimeout(check: ReadinessCheck, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs)));
  try {
    return await Promise.race([check().catch((error: unknown) => (error instanceof Error ? error.message : String(error))), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The signaling server's database (the SQLite file, or PostgreSQL) answers a query; if not, which one and why. */
export function databaseCheck(signaling: Signaling): ReadinessCheck {
  const { store } = signaling;
  return () =>
    store.ping().then(
      () => undefined,
      (error: unknown) => `the ${store.description} does not answer: ${error instanceof Error ? error.message : String(error)}`,
    );
}

/** The signaling server's media server takes new rooms (for a remote one: it is connected). */
export function mediaServerCheck(signaling: Signaling, mediaUrl: string | undefined): ReadinessCheck {
  return async () => {
    if ((await signaling.readiness()).media) return undefined;
    return mediaUrl ? `the media server at ${mediaUrl} is not connected` : 'the media server does not take new rooms';
  };
}

/** The Redis of the signaling cluster answers (and this node is subscribed to it). */
export function clusterCheck(signaling: Signaling, redisUrl: string): ReadinessCheck {
  return async () => ((await signaling.readiness()).cluster ? undefined : `Redis at ${redisUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')} does not answer`);
}

/** The media engine of this process can create a pipeline and has UDP ports to give. */
export function engineCheck(engine: Engine, media: Partial<MediaConfig>): ReadinessCheck {
  return async () => {
    let pipeline: MediaPipeline;
    try {
      pipeline = engine.createPipeline(media);
    } catch (error) {
      return `cannot create a media pipeline: ${error instanceof Error ? error.message : String(error)}`;
    }
    try {
      const [min, max] = pipeline.config.portRange;
      const free = pipeline.ports.size - pipeline.ports.inUse;
      // What WebRtcEndpoint reserves: one port per host address, plus slack.
      const needed = hostAddresses(pipeline.config).length + 3;
      if (free < needed) return `${free} UDP media ports free in ${min}-${max}; a WebRTC endpoint takes ${needed}`;
      return undefined;
    } finally {
      pipeline.close();
    }
  };
}
