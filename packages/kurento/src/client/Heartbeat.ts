import { isKurentoClientError, KurentoClientErrorCode } from './KurentoClientError.js';

/**
 * Pings the server every `intervalMs` while a socket is in service. A ping still
 * unanswered when the next is due means the socket is dead even if TCP has not noticed
 * (a half-open connection): `onDead` runs and the owner drops the socket.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by every start/stop, so a pong of an earlier run is ignored. */
  private run = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly ping: (timeoutMs: number) => Promise<unknown>,
    private readonly onPong: () => void,
    private readonly onDead: () => void,
  ) {}

  start(): void {
    this.stop();
    if (this.intervalMs <= 0) return;
    const run = this.run;
    this.timer = setInterval(() => this.beat(run), this.intervalMs);
  }

  stop(): void {
    this.run++;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private beat(run: number): void {
    this.ping(this.intervalMs).then(
      () => {
        if (run === this.run) this.onPong();
      },
      (error: unknown) => {
        // Other failures (the socket closed) are handled by the socket's own close.
        if (run === this.run && isKurentoClientError(error, KurentoClientErrorCode.REQUEST_TIMEOUT)) {
          this.stop();
          this.onDead();
        }
      },
    );
  }
}
