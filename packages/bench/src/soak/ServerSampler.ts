/**
 * What the soak reads of the server at each sample: from /proc (RSS, file descriptors,
 * child processes, UDP ports of the server and its children) and from its /metrics
 * (heap of the main thread, media pipelines and WebRTC endpoints, signaling sockets).
 */
import { descendants, openFds, readProc, udpPorts } from '../proc.js';

export interface ServerReading {
  /** Seconds since the soak started. */
  t: number;
  rssMb: number;
  /** V8 heap used by the main thread (media workers' heaps are in the RSS only). */
  heapMb: number;
  fds: number;
  /** Processes below the server (recorder and mixer children, and the shells that supervise them), tsx's esbuild service left out. */
  children: number;
  childNames: string[];
  /** Local UDP ports of the server and its children. */
  udpPorts: number;
  /** Local UDP ports of the server process itself. */
  serverUdpPorts: number;
  /** WebRTC endpoints not closed, over every engine of the server (main thread and media workers). */
  endpoints: number;
  pipelines: number;
  signalingConnections: number;
  roomsOpen: number;
}

/** `name{labels} value` lines of the Prometheus text format, summed by name over the label sets `keep` accepts. */
export function metricSum(text: string, name: string, keep: (labels: string) => boolean = () => true): number {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    let labels = '';
    let value: string;
    if (rest.startsWith('{')) {
      const close = rest.indexOf('}');
      labels = rest.slice(1, close);
      value = rest.slice(close + 1).trim();
    } else if (rest.startsWith(' ')) {
      value = rest.trim();
    } else continue; // another metric whose name starts with this one
    if (!keep(labels)) continue;
    const n = Number(value.split(' ')[0]);
    if (Number.isFinite(n)) {
      sum += n;
      seen = true;
    }
  }
  return seen ? sum : Number.NaN;
}

export class ServerSampler {
  constructor(
    private readonly pid: number,
    private readonly metricsUrl: string,
    private readonly startedAtMs: number,
  ) {}

  async read(): Promise<ServerReading> {
    const text = await fetch(this.metricsUrl).then((r) => r.text()).catch(() => '');
    const proc = readProc(this.pid);
    // tsx's esbuild service (the server runs through tsx's loader) is no child of the server's own making.
    const children = descendants(this.pid).filter((c) => c.comm !== 'esbuild');
    return {
      t: (Date.now() - this.startedAtMs) / 1000,
      rssMb: proc ? proc.rssBytes / 2 ** 20 : Number.NaN,
      heapMb: metricSum(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
      fds: openFds(this.pid),
      children: children.length,
      childNames: children.map((c) => c.comm),
      udpPorts: udpPorts([this.pid, ...children.map((c) => c.pid)]).length,
      serverUdpPorts: udpPorts([this.pid]).length,
      endpoints: metricSum(text, 'roundtable_media_webrtc_endpoints', (labels) => !labels.includes('state="closed"')),
      pipelines: metricSum(text, 'roundtable_media_pipelines'),
      signalingConnections: metricSum(text, 'roundtable_signaling_connections'),
      roomsOpen: metricSum(text, 'roundtable_rooms_open'),
    };
  }
}
