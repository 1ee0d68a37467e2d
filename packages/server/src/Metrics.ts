/**
 * Prometheus metrics of one server (`GET /metrics`). Each server has its own registry,
 * so several servers in one process (tests) do not share or clash. Everything but the
 * request counters is read from its owner when Prometheus scrapes (`collect()`), so
 * nothing is counted twice and nothing has to be kept in step.
 */
import type { KurentoServer } from '@roundtable/kurento';
import { MEDIA_KINDS, engineStats, type Engine, type ConnectionState, type EngineStats, type KindTotals, type PacketCoreChoice, type UdpTotals } from '@roundtable/media';
import type { MediaNodeRooms, Signaling, SignalingOptions, WorkerMediaServer } from '@roundtable/signaling';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Role } from './configValues.js';

const PREFIX = 'roundtable_';

/** Always exported, at 0 when no endpoint is in that state. */
const CONNECTION_STATES = ['new', 'connecting', 'connected', 'disconnected', 'failed', 'closed'] as const satisfies readonly ConnectionState[];

/** Label of signaling frames refused before they became a request (no type to name). */
const NO_TYPE = 'none';

/** The per-kind totals of the media engine, each as one gauge with a `kind` label. */
const KIND_GAUGES: ReadonlyArray<{ name: string; help: string; value: keyof KindTotals }> = [
  { name: 'media_packets_lost', help: 'RTP packets lost upstream, as reported by the receiving endpoints', value: 'packetsLost' },
  { name: 'media_nacks_received', help: 'NACKs received from the peers of the sending endpoints', value: 'nacksReceived' },
  { name: 'media_packets_retransmitted', help: 'RTP packets resent in answer to NACKs', value: 'retransmitted' },
  { name: 'media_plis_received', help: 'PLIs (picture loss indications) received from peers', value: 'plisReceived' },
  { name: 'media_firs_received', help: 'FIRs (full intra requests) received from peers', value: 'firsReceived' },
  { name: 'media_keyframe_requests_sent', help: 'keyframe requests (PLI) sent to the sources', value: 'keyframeRequestsSent' },
];

// The engine totals are sums over the endpoints open at the moment: they fall when an
// endpoint closes, so they are gauges, not counters (rate() over them would be wrong).
const OVER_OPEN_ENDPOINTS = 'summed over the media endpoints open now (falls when endpoints close)';

export interface MetricsOptions {
  role: Role;
  version: string;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'type'>;
  private readonly errors: Counter<'type' | 'code'>;
  private engineSnapshot: EngineStats | undefined;
  /** The engine watchEngine() watches (the gauges that read it are registered there). */
  private mediaEngine: Engine | undefined;
  /** The media workers' engines, when rooms run on workers; and their totals during a scrape. */
  private workerEngines: (() => Promise<EngineStats[]>) | undefined;
  private workerSnapshot: EngineStats[] | undefined;

  constructor(options: MetricsOptions) {
    // Process CPU, memory, file descriptors, event-loop lag, GC: prom-client's standard names.
    collectDefaultMetrics({ register: this.registry });
    this.gauge('info', 'this Roundtable process: its role and version (always 1)', ['role', 'version']).set({ role: options.role, version: options.version }, 1);
    this.requests = new Counter({
      name: `${PREFIX}signaling_requests_total`,
      help: `signaling requests answered, by type (${NO_TYPE}: frames refused before they became a request)`,
      labelNames: ['type'],
      registers: [this.registry],
    });
    this.errors = new Counter({
      name: `${PREFIX}signaling_errors_total`,
      help: `signaling requests answered with an error, by type (${NO_TYPE}: frames refused before they became a request) and error code`,
      labelNames: ['type', 'code'],
      registers: [this.registry],
    });
  }

  /** The `observe` hook of the signaling server: counts one answered request. */
  readonly observeRequest: NonNullable<SignalingOptions['observe']> = (type, errorCode) => {
    const label = type === '' ? NO_TYPE : type;
    this.requests.inc({ type: label });
    if (errorCode !== undefined) this.errors.inc({ type: label, code: errorCode });
  };

  /** Connections, online users, calls, rooms and participants of the signaling server. */
  watchSignaling(signaling: Signaling): void {
    this.gauge('signaling_connections', 'WebSockets open at /ws', [], (g) => g.set(signaling.server.connectionCount));
    this.gauge('users_online', 'users with at least one device connected', [], (g) => g.set(signaling.router.onlineUserCount));
    this.gauge('calls_active', 'calls ringing or in progress (1:1, group and loopback)', [], (g) => g.set(signaling.calls.activeCalls));
    this.gauge('rooms_open', 'open rooms with at least one member', [], (g) => g.set(signaling.rooms.openRooms));
    this.gauge('participants', 'people in a call (answered) or in an open room, by kind', ['kind'], (g) => {
      g.set({ kind: 'call' }, signaling.calls.participantCount);
      g.set({ kind: 'room' }, signaling.rooms.participantCount);
    });
    // Per node: calls and rooms above are those this node owns; users_online counts the whole cluster.
    this.gauge('cluster_node', 'this signaling node, by its cluster id (\'local\' without Redis)', ['node'], (g) => g.set({ node: signaling.cluster.nodeId }, 1));
    this.gauge('cluster_nodes', 'signaling nodes with devices online, this one included', [], (g) => g.set(signaling.cluster.stats().nodes));
    this.gauge('cluster_forwarded_requests', 'requests this node sent to the node owning their call or room (since start)', [], (g) => g.set(signaling.cluster.stats().forwarded));
    this.gauge('cluster_served_requests', 'requests other nodes sent to this node, the owner of their call or room (since start)', [], (g) => g.set(signaling.cluster.stats().served));
  }

  /** Sessions and objects of the Kurento Protocol endpoint. */
  watchKurento(kurento: KurentoServer): void {
    this.gauge('kurento_sessions', 'Kurento Protocol sessions (connected, or within their reconnection grace)', [], (g) => g.set(kurento.sessionCount));
    this.gauge('kurento_objects', 'media objects held by Kurento Protocol sessions', [], (g) => g.set(kurento.objectCount));
  }

  /** The rooms a media node holds for signaling nodes (its room calls). */
  watchMediaNodeRooms(rooms: MediaNodeRooms): void {
    this.gauge('media_node_rooms', 'rooms this media node holds for signaling nodes', [], (g) => g.set(rooms.load().rooms));
    this.gauge('media_node_participants', 'participants in the rooms this media node holds for signaling nodes', [], (g) => g.set(rooms.load().participants));
    this.gauge('media_node_connections', 'server transports and endpoints of the rooms this media node holds (two transports per participant of the bundled words)', [], (g) => g.set(rooms.connections));
  }

  /**
   * Media worker threads: rooms and participants per worker, restarts; their engines
   * count in the media_* engine metrics (asked for at each scrape).
   */
  watchMediaWorkers(workers: WorkerMediaServer): void {
    this.workerEngines = () => workers.engineStats();
    this.gauge('media_workers', 'media worker threads running (able to take rooms)', [], (g) => g.set(workers.stats().filter((w) => w.ready).length));
    this.gauge('media_worker_rooms', 'rooms on each media worker', ['worker'], (g) => {
      for (const w of workers.stats()) g.set({ worker: String(w.index) }, w.rooms);
    });
    this.gauge('media_worker_participants', 'participants in the rooms of each media worker', ['worker'], (g) => {
      for (const w of workers.stats()) g.set({ worker: String(w.index) }, w.participants);
    });
    this.gauge('media_worker_restarts', 'times each media worker was replaced after it stopped (crash, exit, out of memory)', ['worker'], (g) => {
      for (const w of workers.stats()) g.set({ worker: String(w.index) }, w.restarts);
    });
  }

  /** The media engine of this process: pipelines, endpoints, packets, bytes, loss, NACK/PLI/FIR. */
  watchEngine(engine: Engine, packetCore?: PacketCoreChoice): void {
    this.mediaEngine = engine;
    if (packetCore) {
      this.gauge('media_packet_core', "the packet path of the engine's own transport (media.packetCore): 1 for the one in use", ['path'], (g) => {
        for (const path of ['native', 'typescript'] as const) g.set({ path }, packetCore.path === path ? 1 : 0);
      });
      this.gauge('media_packet_core_packets', 'the native packet core since it started (0 on the TypeScript path): datagrams received, RTP packets forwarded, batches handed up to JavaScript', ['what'], (g) => {
        const stats = engine.runningNativeCore()?.stats();
        g.set({ what: 'received' }, stats?.datagrams ?? 0);
        g.set({ what: 'forwarded' }, stats?.forwarded ?? 0);
        g.set({ what: 'upcalls' }, stats?.upcalls ?? 0);
      });
    }
    this.gauge('media_pipelines', 'open media pipelines', [], (g) => g.set(this.engine().pipelines));
    const seenTypes = new Set<string>();
    this.gauge('media_elements', 'media elements by type', ['type'], (g) => {
      const { elements } = this.engine();
      for (const type of Object.keys(elements)) seenTypes.add(type);
      // A type seen once stays, at 0, rather than vanish from the scrape.
      for (const type of seenTypes) g.set({ type }, elements[type] ?? 0);
    });
    this.gauge('media_webrtc_endpoints', 'WebRTC endpoints by connection state', ['state'], (g) => {
      const { webrtcStates } = this.engine();
      for (const state of new Set<string>([...CONNECTION_STATES, ...Object.keys(webrtcStates)])) g.set({ state }, webrtcStates[state] ?? 0);
    });
    this.gauge('media_invalid_packets', `datagrams dropped as garbage or failing SRTP authentication, ${OVER_OPEN_ENDPOINTS}`, [], (g) => g.set(this.engine().invalidPackets));
    this.gauge('media_udp_shared_sockets', 'open shared media sockets (single-port mode: one per ICE address and engine)', [], (g) => g.set(this.engine().udp.sockets));
    this.gauge('media_udp_bindings', 'ICE agents on the shared media sockets: one per server-side WebRTC connection (a transport of a bundled room or call, or an endpoint)', [], (g) => g.set(this.engine().udp.bindings));
    this.gauge('media_udp_datagrams', 'datagrams received on the shared media sockets, over the open ones', [], (g) => g.set(this.engine().udp.datagrams));
    this.gauge('media_udp_dropped', 'datagrams the shared media sockets dropped before any endpoint (unknown: no known sender, ufrag or STUN transaction; malformed: bad STUN; unauthenticated: a STUN request failing MESSAGE-INTEGRITY), over the open ones', ['reason'], (g) => {
      const { udp } = this.engine();
      g.set({ reason: 'unknown' }, udp.droppedUnknown);
      g.set({ reason: 'malformed' }, udp.droppedMalformed);
      g.set({ reason: 'unauthenticated' }, udp.droppedUnauthenticated);
    });
    this.gauge('media_packets', `RTP packets by kind and direction (in: from peers, out: to peers), ${OVER_OPEN_ENDPOINTS}`, ['kind', 'direction'], (g) => {
      for (const kind of MEDIA_KINDS) {
        const totals = this.engine().kinds[kind];
        g.set({ kind, direction: 'in' }, totals.packetsIn);
        g.set({ kind, direction: 'out' }, totals.packetsOut);
      }
    });
    this.gauge('media_bytes', `RTP payload bytes by kind and direction (in: from peers, out: to peers), ${OVER_OPEN_ENDPOINTS}`, ['kind', 'direction'], (g) => {
      for (const kind of MEDIA_KINDS) {
        const totals = this.engine().kinds[kind];
        g.set({ kind, direction: 'in' }, totals.bytesIn);
        g.set({ kind, direction: 'out' }, totals.bytesOut);
      }
    });
    this.gauge('media_downlink_estimates', "receiving transports (one per participant of a bundled call or room) keeping a downlink bandwidth estimate", [], (g) => g.set(this.engine().downlinkEstimates.length));
    this.gauge('media_downlink_estimate_bps', 'their downlink bandwidth estimates, bits/s: the lowest, the median and the highest (0 with none; docs/adaptation.md)', ['stat'], (g) => {
      const sorted = [...this.engine().downlinkEstimates].sort((a, b) => a - b);
      g.set({ stat: 'min' }, sorted[0] ?? 0);
      g.set({ stat: 'median' }, sorted[Math.floor(sorted.length / 2)] ?? 0);
      g.set({ stat: 'max' }, sorted[sorted.length - 1] ?? 0);
    });
    for (const { name, help, value } of KIND_GAUGES) {
      this.gauge(name, `${help}, by kind, ${OVER_OPEN_ENDPOINTS}`, ['kind'], (g) => {
        for (const kind of MEDIA_KINDS) g.set({ kind }, this.engine().kinds[kind][value]);
      });
    }
  }

  /** The Content-Type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text format. */
  async text(): Promise<string> {
    // The workers' engines answer asynchronously: asked once, before the synchronous collect() pass.
    this.workerSnapshot = this.workerEngines ? await this.workerEngines() : undefined;
    try {
      return await this.registry.metrics();
    } finally {
      this.workerSnapshot = undefined;
    }
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[], collect?: (gauge: Gauge<L>) => void): Gauge<L> {
    const gauge: Gauge<L> = new Gauge<L>({
      name: `${PREFIX}${name}`,
      help,
      labelNames,
      registers: [this.registry],
      ...(collect ? { collect: () => collect(gauge) } : {}),
    });
    return gauge;
  }

  /**
   * engineStats() once per scrape: a scrape calls every collect() in one synchronous pass,
   * so the snapshot is dropped on the next turn of the event loop.
   */
  private engine(): EngineStats {
    if (this.engineSnapshot === undefined) {
      this.engineSnapshot = addEngineStats(engineStats(this.mediaEngine!), this.workerSnapshot ?? []);
      setImmediate(() => (this.engineSnapshot = undefined));
    }
    return this.engineSnapshot;
  }
}

/** `main` plus every total of `others` (the media workers' engines). */
function addEngineStats(main: EngineStats, others: readonly EngineStats[]): EngineStats {
  for (const other of others) {
    main.pipelines += other.pipelines;
    main.invalidPackets += other.invalidPackets;
    main.downlinkEstimates.push(...other.downlinkEstimates);
    for (const key of Object.keys(main.udp) as Array<keyof UdpTotals>) main.udp[key] += other.udp[key];
    for (const [type, n] of Object.entries(other.elements)) main.elements[type] = (main.elements[type] ?? 0) + n;
    for (const [state, n] of Object.entries(other.webrtcStates)) main.webrtcStates[state] = (main.webrtcStates[state] ?? 0) + n;
    for (const kind of MEDIA_KINDS) {
      const [into, from] = [main.kinds[kind], other.kinds[kind]];
      for (const key of Object.keys(into) as Array<keyof KindTotals>) into[key] += from[key];
    }
  }
  return main;
}
