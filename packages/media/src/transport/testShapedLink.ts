/**
 * A receiver behind a shaped link, for the tests of the downlink estimate and of the layer
 * selection it drives: a network namespace joined to ours by a veth pair, whose egress
 * toward the namespace a `tc ... tbf` can limit, and a libwebrtc subscriber
 * (testing/wrtcSubscriber.mjs) running inside it. Needs root, `ip netns` and `tc`.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Whether this process may make network namespaces and qdiscs (root, ip, tc). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    execFileSync('tc', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A network namespace holding the receiver, joined to ours by a veth pair whose egress toward it a tbf can shape. */
export class ShapedLink {
  readonly ns: string;
  readonly outer: string;
  readonly inner: string;
  readonly subnet: string;
  readonly serverAddress: string;

  /**
   * `tag` (a few letters) and `octet` (the second byte of its 10.x.y.0/30) keep the links
   * of two test files apart.
   */
  constructor(tag = 'bwe', octet = 97) {
    this.ns = `rt${tag}-${process.pid}`;
    this.outer = `${tag}${process.pid % 100000}o`;
    this.inner = `${tag}${process.pid % 100000}i`;
    this.subnet = `10.${octet}.${process.pid % 250}`;
    this.serverAddress = `${this.subnet}.1`;
    this.remove();
    const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    ip('netns', 'add', this.ns);
    try {
      ip('-n', this.ns, 'link', 'set', 'lo', 'up');
      ip('link', 'add', this.outer, 'type', 'veth', 'peer', 'name', this.inner);
      ip('link', 'set', this.inner, 'netns', this.ns);
      ip('addr', 'add', `${this.serverAddress}/30`, 'dev', this.outer);
      ip('link', 'set', this.outer, 'up');
      ip('-n', this.ns, 'addr', 'add', `${this.subnet}.2/30`, 'dev', this.inner);
      ip('-n', this.ns, 'link', 'set', this.inner, 'up');
    } catch (error) {
      this.remove();
      throw error;
    }
  }

  /** The downlink (our side's egress toward the receiver) limited to `rate` (tc tbf). */
  limit(rate: string): void {
    execFileSync('tc', ['qdisc', 'replace', 'dev', this.outer, 'root', 'tbf', 'rate', rate, 'burst', '5000', 'latency', '300ms'], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  lift(): void {
    execFileSync('tc', ['qdisc', 'del', 'dev', this.outer, 'root'], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** A node process inside the namespace. */
  spawn(script: string): ChildProcessWithoutNullStreams {
    return spawn('ip', ['netns', 'exec', this.ns, process.execPath, script], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** The libwebrtc subscriber of testing/wrtcSubscriber.mjs, inside the namespace. */
  subscriber(): RemoteSubscriber {
    return new RemoteSubscriber(this.spawn(fileURLToPath(new URL('../testing/wrtcSubscriber.mjs', import.meta.url))));
  }

  remove(): void {
    try {
      execFileSync('ip', ['link', 'del', this.outer], { stdio: 'ignore' });
    } catch {
      // not there
    }
    try {
      execFileSync('ip', ['netns', 'del', this.ns], { stdio: 'ignore' });
    } catch {
      // not there
    }
  }
}

/** What the subscriber says of its inbound video. */
export interface RemoteVideoStats {
  packets: number;
  bytes: number;
  framesDecoded: number;
  /** The last decoded frame's width (0 before any). */
  frameWidth: number;
}

/** The libwebrtc subscriber of testing/wrtcSubscriber.mjs in its process, driven by JSON lines. */
export class RemoteSubscriber {
  private readonly waiting: Array<(msg: Record<string, unknown>) => boolean> = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as Record<string, unknown>;
      const i = this.waiting.findIndex((w) => w(msg));
      if (i >= 0) this.waiting.splice(i, 1);
    });
  }

  request<T>(msg: object, key: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${key} from the subscriber`)), 15_000);
      this.waiting.push((m) => {
        if (!(key in m)) return false;
        clearTimeout(timer);
        resolve(m[key] as T);
        return true;
      });
      this.child.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Its answer to `offer` (`transportCc: false`: without transport-cc, so that it sends REMB). */
  answer(offer: string, options: { transportCc?: boolean } = {}): Promise<string> {
    return this.request<string>({ offer, transportCc: options.transportCc ?? true }, 'answer');
  }

  stats(): Promise<RemoteVideoStats> {
    return this.request<RemoteVideoStats>({ stats: true }, 'stats');
  }

  close(): void {
    this.child.stdin.write(`${JSON.stringify({ close: true })}\n`);
    setTimeout(() => this.child.kill('SIGKILL'), 1000).unref();
  }
}
