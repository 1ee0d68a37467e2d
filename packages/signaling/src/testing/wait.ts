import type { ServerNotification, ServerSignalPayload } from '@roundtable/protocol';

/** Polls `check` every 25 ms until it holds, or throws after `timeoutMs` (with what `state` says then). */
export async function until(check: () => boolean, timeoutMs = 20_000, state?: () => unknown): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met in time${state ? `: ${JSON.stringify(state())}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Feeds the signal payloads of `type` found in a growing list of notifications to
 * `handle`, in order, as they arrive. Returns the function that stops it.
 */
export function pumpSignals(notifications: readonly ServerNotification[], type: 'call.signal' | 'room.signal', handle: (payload: ServerSignalPayload) => unknown): () => void {
  let handled = 0;
  const timer = setInterval(() => {
    while (handled < notifications.length) {
      const n = notifications[handled++]!;
      if (n.type === type) void handle(n.payload);
    }
  }, 5);
  return () => clearInterval(timer);
}
