import type { ClientRequest, RequestType } from '@roundtable/protocol';
import type { HandlerTable } from '../net/Handlers.js';
import type { AnyHandler } from '../net/mergeHandlerTables.js';
import type { Cluster, OwnedKind } from './Cluster.js';

/** Which call or room a request is about; `claim`: the request may make this node its owner (a room's first join). */
export interface OwnedTarget {
  kind: OwnedKind;
  key: string;
  claim?: boolean;
}

/** What a request is about, or undefined when it runs on the node that got it. */
export type TargetOf = (request: ClientRequest) => OwnedTarget | undefined;

/**
 * Wraps a module's handlers so that a request about a call or a room runs on the node
 * that owns it: here when this node does (or nobody does: the handler then answers, say,
 * NOT_FOUND), forwarded through the cluster otherwise. The answer (or error) comes back
 * to the client as if it ran here.
 */
export function routeToOwner(cluster: Cluster, table: HandlerTable, targetOf: TargetOf): HandlerTable {
  const routed: Partial<Record<RequestType, AnyHandler>> = {};
  for (const type of Object.keys(table) as RequestType[]) {
    const local = table[type] as AnyHandler | undefined;
    if (!local) continue;
    routed[type] = async (request, ctx) => {
      if (!cluster.shared) return local(request, ctx);
      const target = targetOf(request);
      if (!target) return local(request, ctx);
      const owner = target.claim ? await cluster.claim(target.kind, target.key) : await cluster.ownerOf(target.kind, target.key);
      if (owner === undefined || owner === cluster.nodeId) return local(request, ctx);
      return cluster.forward(owner, type, request, ctx.link);
    };
  }
  return routed as HandlerTable;
}

/** Calls by `callId`; rooms by `room` (a join claims the room). */
export const callOrRoomTarget: TargetOf = (request) => {
  if ('callId' in request && typeof request.callId === 'string') return { kind: 'call', key: request.callId };
  if ('room' in request && typeof request.room === 'string') return { kind: 'room', key: request.room, claim: request.type === 'room.join' };
  return undefined;
};
