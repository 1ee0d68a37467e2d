import type { MediaConfig } from '../config.js';
import { UdpMuxes } from '../net/UdpMux.js';
import { NativePacketCore } from '../native/PacketCore.js';
import { DtlsCertificate } from '../transport/DtlsSession.js';
import { MediaPipeline } from './MediaPipeline.js';
import { PortAllocator } from './PortAllocator.js';

/**
 * The media engine of a process (or of a media worker): what its pipelines and
 * transports share, held here rather than in module-level registries. It owns
 * - the shared UDP sockets (`sockets`: one UdpMux per address and port, reference
 *   counted, and the ICE ufrags of every agent on them);
 * - the native packet core those sockets run on, when it loads (one receive thread);
 * - the port allocators of the media port ranges (one per range, shared by the
 *   pipelines using it: recorders, players, the MCU and port-range endpoints);
 * - the DTLS certificate of its transports;
 * - its pipelines.
 * Two engines in one process share nothing: a test file, the server and each worker
 * make their own. close() closes the pipelines; sockets close with their last user.
 */
export class Engine {
  readonly sockets: UdpMuxes;
  private readonly allocators = new Map<string, PortAllocator>();
  private readonly pipelineSet = new Set<MediaPipeline>();
  private certificateValue: Promise<DtlsCertificate> | undefined;
  private core: NativePacketCore | undefined;
  private closed = false;

  constructor() {
    this.sockets = new UdpMuxes(() => this.nativeCore());
  }

  /** A new pipeline of this engine (`config` as MediaPipeline takes it). */
  createPipeline(config: Partial<MediaConfig> = {}): MediaPipeline {
    return new MediaPipeline(this, config);
  }

  /** The allocator of the ports min..max, one per range, shared by every pipeline using it. */
  ports(min: number, max: number): PortAllocator {
    const key = `${min}-${max}`;
    let allocator = this.allocators.get(key);
    if (!allocator) {
      allocator = new PortAllocator(min, max);
      this.allocators.set(key, allocator);
    }
    return allocator;
  }

  /** The DTLS certificate of the engine's transports, made on first use (ECDSA P-256). */
  certificate(): Promise<DtlsCertificate> {
    this.certificateValue ??= DtlsCertificate.generate();
    return this.certificateValue;
  }

  /**
   * The native packet core of the engine's native sockets, started on first use (it stops
   * with its last socket, and the next socket starts another); undefined when the addon
   * cannot load.
   */
  nativeCore(): NativePacketCore | undefined {
    if (!this.core || this.core.isClosed) this.core = NativePacketCore.open();
    return this.core;
  }

  /** The native packet core if one runs now (for metrics: it runs while a native socket is open). */
  runningNativeCore(): NativePacketCore | undefined {
    return this.core && !this.core.isClosed ? this.core : undefined;
  }

  /** The engine's open pipelines. */
  pipelines(): MediaPipeline[] {
    return [...this.pipelineSet];
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal a pipeline of this engine opened or closed. */
  pipelineOpened(pipeline: MediaPipeline): void {
    this.pipelineSet.add(pipeline);
  }

  /** @internal */
  pipelineClosed(pipeline: MediaPipeline): void {
    this.pipelineSet.delete(pipeline);
  }

  /** Closes every pipeline (their elements, sockets and children go with them). Idempotent. */
  close(): void {
    this.closed = true;
    for (const pipeline of this.pipelines()) pipeline.close();
  }
}
