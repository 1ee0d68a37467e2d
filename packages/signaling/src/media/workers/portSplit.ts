import { DEFAULT_MEDIA_CONFIG, type MediaConfig } from '@roundtable/media';

/**
 * The single-port setting of the media engine: a port number, `false` for the port-range
 * mode, or undefined for the engine's default (the first port of the range). Read
 * loosely so that this module does not depend on which engine version it runs with.
 */
type UdpPortSetting = number | false | undefined;

/** The UDP ports one media engine (a media worker, or the main thread) may use. */
export interface WorkerPorts {
  /** The engine's own slice of the media port range (its PortAllocator's range). */
  portRange: [number, number];
  /**
   * Its own single port, when `udpPort` was set to a port; absent otherwise (port-range
   * mode, or single-port mode by default: the engine then takes the first free port of
   * its own slice).
   */
  udpPort?: number;
}

/** Each WebRTC endpoint reserves a block of a few ports: a slice smaller than this is useless. */
export const MIN_PORTS_PER_WORKER = 8;

/**
 * Splits the media ports between `workers` media engines (worker threads, and the main
 * thread), so that no two of them, each with its own port allocator and single-port
 * socket, ever contend for a port. `portRange` is cut into `workers` contiguous, equal
 * slices (the first ones take the remainder), engine k getting slice k:
 *
 * - `udpPort` unset (single-port mode by default) or `false` (port-range mode): nothing
 *   more; in single-port mode each engine's default applies to its own slice (its first
 *   free port).
 * - `udpPort` a number (single-port mode on a chosen port): engine k listens on
 *   `udpPort + k`. Those ports are taken out of the range before it is cut (when they lie
 *   inside it), so no slice contains another engine's shared port.
 *
 * Throws a RangeError when the range is too small for that many engines.
 */
export function splitMediaPorts(config: Partial<MediaConfig>, workers: number): WorkerPorts[] {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`media engines must be a positive integer, not ${workers}`);
  const [min, max] = config.portRange ?? DEFAULT_MEDIA_CONFIG.portRange;
  const setting = (config as { udpPort?: UdpPortSetting }).udpPort;
  const first = typeof setting === 'number' ? setting : undefined;
  if (first !== undefined && first + workers - 1 > 65535) {
    throw new RangeError(`single-port mode with ${workers} media engines needs UDP ports ${first}-${first + workers - 1}: beyond 65535`);
  }
  // The part of the range left for the slices: all of it, or the largest stretch beside the shared ports.
  let [lo, hi] = [min, max];
  if (first !== undefined) {
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
      `media port range ${min}-${max} is too small for ${workers} media engines: each needs at least ${MIN_PORTS_PER_WORKER} ports` +
        (first !== undefined ? ` besides the shared ports ${first}-${first + workers - 1}` : ''),
    );
  }
  const extra = size - each * workers;
  const out: WorkerPorts[] = [];
  let start = lo;
  for (let k = 0; k < workers; k++) {
    const end = start + each - 1 + (k < extra ? 1 : 0);
    out.push(first !== undefined ? { portRange: [start, end], udpPort: first + k } : { portRange: [start, end] });
    start = end + 1;
  }
  return out;
}
