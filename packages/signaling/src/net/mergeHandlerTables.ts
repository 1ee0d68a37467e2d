import type { ClientRequest, RequestType } from '@roundtable/protocol';
import type { Handler, HandlerTable } from './Handlers.js';

/** A handler that accepts any request; the table guarantees it only gets its own type. */
export type AnyHandler = (request: ClientRequest, ctx: Parameters<Handler<RequestType>>[1]) => Promise<unknown>;

/**
 * One lookup from the modules' tables. A type claimed twice, or one of `reserved` (the
 * server's own requests), is a wiring mistake and throws at start-up.
 */
export function mergeHandlerTables(tables: readonly HandlerTable[], reserved: ReadonlySet<RequestType>): ReadonlyMap<RequestType, AnyHandler> {
  const merged = new Map<RequestType, AnyHandler>();
  for (const table of tables) {
    for (const type of Object.keys(table) as RequestType[]) {
      const handler = table[type] as AnyHandler | undefined;
      if (!handler) continue;
      if (reserved.has(type)) throw new Error(`'${type}' is handled by the server itself; a module may not handle it`);
      if (merged.has(type)) throw new Error(`two handler tables handle '${type}'`);
      merged.set(type, handler);
    }
  }
  return merged;
}
