/**
 * Messages of each remote address counted over every signaling node, beside each node's
 * own token buckets (AddressLimiter): an address whose sockets are spread over the nodes
 * is held to one rate in all. Counts are summed in windows; an address over the rate in a
 * window is refused on every node until that window ends.
 */
export interface SharedRate {
  /** One message of `address` was let through here. */
  count(address: string): void;
  /** Whether `address` is over the rate over all nodes in the current window. */
  blocked(address: string): boolean;
}

/** Makes the shared counting of the limiter with these numbers (undefined: none, one process). */
export type SharedRateFactory = (ratePerSecond: number, burst: number) => SharedRate | undefined;
