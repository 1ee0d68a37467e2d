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

/**
 * Splits a byte stream into JSON texts. The official client writes requests to a
 * stream that may put several of them in one binary frame, or one across frames; this
 * returns each complete top-level JSON value once all of it has arrived.
 */
export class JsonStreamSplitter {
  private buffer = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  /** Bytes of a message still incomplete are capped, so a broken client cannot grow it forever. */
  constructor(private readonly maxPending = 16 * 1024 * 1024) {}

  push(chunk: string): string[] {
    const out: string[] = [];
    let i = this.buffer.length;
    this.buffer += chunk;
    const text = this.buffer;
    for (; i < text.length; i++) {
      const ch = text[i]!;
      if (this.depth === 0) {
        if (ch === '{' || ch === '[') {
          this.start = i;
          this.depth = 1;
        } else if (!/\s/.test(ch)) {
          // Not JSON at all: hand it on as its own message, to get a parse error back.
          const end = text.slice(i).search(/[{[]/);
          const stop = end < 0 ? text.length : i + end;
          out.push(text.slice(i, stop));
          i = stop - 1;
        }
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === '\\') this.escaped = true;
        else if (ch === '"') this.inString = false;
        continue;
      }
      if (ch === '"') this.inString = true;
      else if (ch === '{' || ch === '[') this.depth++;
      else if (ch === '}' || ch === ']') {
        this.depth--;
        if (this.depth === 0) {
          out.push(text.slice(this.start, i + 1));
          this.start = -1;
        }
      }
    }
    this.buffer = this.depth > 0 ? text.slice(this.start) : '';
    if (this.depth > 0) this.start = 0;
    if (this.buffer.length > this.maxPending) {
      out.push(this.buffer);
      this.reset();
    }
    return out;
  }

  private reset(): void {
    this.buffer = '';
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.start = -1;
  }
}
