/**
 * Methods of our own beside the Kurento Protocol's, on the same WebSocket, sessions and
 * limits: a Roundtable media node serves its rooms this way (docs/architecture.md,
 * "Rooms on media nodes"). A Kurento client that never calls them sees a plain
 * Kurento Media Server.
 */

/** The caller's session, as an extension method sees it. */
export interface ExtensionSession {
  readonly id: string;
  /**
   * Sends a JSON-RPC notification to the session's client; while its socket is away, it
   * waits in the session's backlog and goes out when the client resumes the session.
   */
  notify(method: string, params: Record<string, unknown>): void;
  /** Runs `listener` once when the session ends (its grace period ran out, or the server closed). */
  onClose(listener: () => void): void;
}

/**
 * One method: `params` are the request's, unvalidated. What it resolves with is the
 * response's `value`; a rejection is answered as a Kurento error (UNEXPECTED_ERROR,
 * unless it is a KurentoError).
 */
export type ExtensionMethod = (session: ExtensionSession, params: Record<string, unknown>) => Promise<unknown>;

/** Extension methods by name; a name of the Kurento Protocol's own is refused at start. */
export type KurentoExtensions = Readonly<Record<string, ExtensionMethod>>;
