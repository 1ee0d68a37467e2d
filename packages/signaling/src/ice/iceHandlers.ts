import type { HandlerTable } from '../net/Handlers.js';
import type { ResultOf } from '../results.js';
import type { IceServers } from './IceServers.js';

/** `ice.servers`: the STUN/TURN list for the requesting user. */
export function iceHandlers(iceServers: IceServers): HandlerTable {
  return {
    'ice.servers': async (_request, { link }): Promise<ResultOf<'ice.servers'>> => iceServers.forUser(link.userId),
  };
}
