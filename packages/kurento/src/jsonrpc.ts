import { KurentoError } from './errors.js';

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id?: string | number;
  method: string;
  params?: Record<string, unknown>;
}

/** Parses and checks one JSON-RPC 2.0 request (text of a WebSocket frame). */
export function parseRequest(text: string): JsonRpcRequest {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    throw new KurentoError('PARSE_ERROR', 'message is not valid JSON');
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new KurentoError('INVALID_REQUEST', 'a request must be a JSON object (batches are not supported)');
  }
  const m = message as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') throw new KurentoError('INVALID_REQUEST', "'jsonrpc' must be \"2.0\"");
  if (typeof m.method !== 'string' || m.method === '') throw new KurentoError('INVALID_REQUEST', "'method' must be a non-empty string");
  if (m.id !== undefined && typeof m.id !== 'string' && typeof m.id !== 'number') {
    throw new KurentoError('INVALID_REQUEST', "'id' must be a string or a number");
  }
  if (m.params !== undefined && m.params !== null && (typeof m.params !== 'object' || Array.isArray(m.params))) {
    throw new KurentoError('INVALID_PARAMS', "'params' must be an object");
  }
  return {
    jsonrpc: '2.0',
    id: m.id as string | number | undefined,
    method: m.method,
    params: (m.params ?? undefined) as Record<string, unknown> | undefined,
  };
}

/** The `id` of a request text, if it has a usable one (for error replies to requests not run). */
export function requestIdOf(text: string): string | number | null {
  // Texts beyond this are not parsed again just to answer them an error.
  if (text.length > 64 * 1024) return null;
  try {
    const id = (JSON.parse(text) as { id?: unknown } | null)?.id;
    return typeof id === 'string' || typeof id === 'number' ? id : null;
  } catch {
    return null;
  }
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isJsonSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

/**
 * Splits a byte stream into JSON texts. The official client writes requests to a
 * stream that may put several of them in one binary frame, or one across frames.
 * `push` only stores a chunk; each `next` scans just far enough for one complete
 * top-level JSON value, so that the caller decides how much work a frame gets.
 */
export class JsonStreamSplitter {
  private buffer = '';
  /** Next character to scan. */
  private pos = 0;
  /** Start of the value being scanned, -1 between values. */
  private start = -1;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Bytes of a message still incomplete are capped, so a broken client cannot grow it forever. */
  constructor(private readonly maxPending = 16 * 1024 * 1024) {}

  push(chunk: string): void {
    // Drop what was already handed out before appending.
    const keep = this.start >= 0 ? this.start : this.pos;
    if (keep > 0) {
      this.buffer = this.buffer.slice(keep);
      this.pos -= keep;
      if (this.start >= 0) this.start = 0;
    }
    this.buffer += chunk;
  }

  /** Characters pushed and not yet handed out. */
  get pending(): number {
    return this.buffer.length - (this.start >= 0 ? this.start : this.pos);
  }

  /** The next complete JSON text (or run of non-JSON, to get a parse error back), or undefined. */
  next(): string | undefined {
    const text = this.buffer;
    while (this.pos < text.length) {
      const i = this.pos++;
      const ch = text.charCodeAt(i);
      if (this.depth === 0) {
        if (ch === OPEN_BRACE || ch === OPEN_BRACKET) {
          this.start = i;
          this.depth = 1;
        } else if (!isJsonSpace(ch)) {
          let stop = i + 1;
          while (stop < text.length && text.charCodeAt(stop) !== OPEN_BRACE && text.charCodeAt(stop) !== OPEN_BRACKET) stop++;
          this.pos = stop;
          return text.slice(i, stop);
        }
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === BACKSLASH) this.escaped = true;
        else if (ch === QUOTE) this.inString = false;
        continue;
      }
      if (ch === QUOTE) this.inString = true;
      else if (ch === OPEN_BRACE || ch === OPEN_BRACKET) this.depth++;
      else if (ch === CLOSE_BRACE || ch === CLOSE_BRACKET) {
        this.depth--;
        if (this.depth === 0) {
          const out = text.slice(this.start, i + 1);
          this.start = -1;
          return out;
        }
      }
    }
    if (this.depth > 0 && this.pos - this.start > this.maxPending) {
      const out = text.slice(this.start);
      this.reset();
      return out;
    }
    return undefined;
  }

  reset(): void {
    this.buffer = '';
    this.pos = 0;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.start = -1;
  }
}
