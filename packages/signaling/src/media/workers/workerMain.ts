/**
 * A media worker thread: rooms of an InProcessMediaServer (this thread's own media engine,
 * with its own ports) driven over the RPC of rpc.ts by the WorkerMediaServer on the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine, engineStats, type MediaConfig } from '@roundtable/media';
import { InProcessMediaServer } from '../InProcessMediaServer.js';
import { RoomHost } from '../rooms/RoomHost.js';
import { roomCallSchemas } from '../rooms/roomCalls.js';
import { serializeError, type ParamsOf, type ResultOf, type WorkerInit, type WorkerMessage, type WorkerRequest } from './rpc.js';

const port = parentPort;
if (!port) throw new Error('workerMain runs in a media worker thread only');
const init = workerData as WorkerInit;
/** The thread's media engine: its sockets, ports and pipelines. */
const engine = new Engine();
const server = new InProcessMediaServer(init.media as Partial<MediaConfig>, undefined, engine);

function post(message: WorkerMessage): void {
  port!.postMessage(message);
}

const rooms = new RoomHost(server, post, `media worker ${init.index}`);

type WorkerOwn = 'engineStats' | 'shutdown' | 'crash' | 'hang' | 'ping';

/** The worker's own calls; every room call goes to the RoomHost. */
const own: { [M in WorkerOwn]: (params: ParamsOf<M>) => Promise<ResultOf<M>> } = {
  engineStats: async () => engineStats(engine),
  async shutdown() {
    await rooms.close();
    await server.close();
    engine.close();
    return null;
  },
  ping: async () => null,
  hang: () =>
    new Promise<null>(() => {
      setImmediate(() => {
        for (;;);
      });
    }),
  // Never answers: the thread dies first, so the call shows how pending calls end.
  crash: ({ message }) =>
    new Promise<null>(() => {
      setImmediate(() => {
        throw new Error(message);
      });
    }),
};

function handle(request: WorkerRequest): Promise<unknown> {
  if (Object.hasOwn(roomCallSchemas, request.method)) return rooms.call(request.method, request.params);
  return (own[request.method as WorkerOwn] as (params: unknown) => Promise<unknown>)(request.params);
}

port.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (result) => post({ type: 'response', id: request.id, ok: true, result }),
    (error: unknown) => post({ type: 'response', id: request.id, ok: false, error: serializeError(error) }),
  );
});
post({ type: 'ready' });
