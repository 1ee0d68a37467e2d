import { DEFAULT_MEDIA_CONFIG, type MediaConfig } from '@roundtable/media';

/**
 * The single-port setting of the media engine: a port number, `false` for the port-range
 * mode, or undefined for the engine's default (the first port of the range). Read
 * loosely so that this module does not depend on which engine version it runs with.
 */
type UdpPortSetting = number | false | undefined;

/** The UDP ports one media worker may use. */
export interface WorkerPorts {
  /** The worker's own slice of the media port range (its PortAllocator's range). */
  portRange: [number, number];
  /** In single-port mode, the worker's own shared port; absent in port-range mode. */
  udpPort?: number;
}

/** Each WebRTC endpoint reserves a block of a few ports: a slice smaller than this is useless. */
export const MIN_PORTS_PER_WORKER = 8;

/**
 * Splits the media ports between `workers` media workers, so that no two workers (each
 * with its own port allocator) ever contend for a port.
 *
 * - Port-range mode (`udpPort: false`): worker k gets the k-th of `workers` contiguous,
 *   equal slices of `portRange` (the first slices take the remainder).
 * - Single-port mode (`udpPort` a number, or unset: the first port of the range): worker
 *   k listens on `udpPort + k`. Those `workers` ports are taken out of the range before
 *   it is split (when they lie inside it; by default they are its first ports), so the
 *   slices never contain another worker's shared port.
 *
 * Throws a RangeError when the range is too small for that many workers.
 */
export function splitMediaPorts(config: Partial<MediaConfig>, workers: number): WorkerPorts[] {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`media workers must be a positive integer, not ${workers}`);
  const [min, max] = config.portRange ?? DEFAULT_MEDIA_CONFIG.portRange;
  const setting = (config as { udpPort?: UdpPortSetting }).udpPort;
  const single = setting !== false;
  const first = typeof setting === 'number' ? setting : min;
  if (single && first + workers - 1 > 65535) {
    throw new RangeError(`single-port mode with ${workers} media workers needs UDP ports ${first}-${first + workers - 1}: beyond 65535`);
  }
  // The part of the range left for the slices: all of it, or the largest stretch beside the shared ports.
  let [lo, hi] = [min, max];
  if (single) {
    const last = first + workers - 1;
    if (first <= max && last >= min) {
      const below: [number, number] = [min, first - 1];
      const above: [number, number] = [last + 1, max];
      [lo, hi] = below[1] - below[0] >= above[1] - above[0] ? below : above;
    }
  }
  const size = hi - lo + 1;
  const each = Math.floor(size / workers);
  if (each < MIN_PORTS_PER_WORKER) {
    throw new RangeError(
      `media port range ${min}-${max} is too small for ${workers} media workers: each needs at least ${MIN_PORTS_PER_WORKER} ports` +
        (single ? ` besides the shared ports ${first}-${first + workers - 1}` : ''),
    );
  }
  const extra = size - each * workers;
  const out: WorkerPorts[] = [];
  let start = lo;
  for (let k = 0; k < workers; k++) {
    const end = start + each - 1 + (k < extra ? 1 : 0);
    out.push(single ? { portRange: [start, end], udpPort: first + k } : { portRange: [start, end] });
    start = end + 1;
  }
  return out;
}
