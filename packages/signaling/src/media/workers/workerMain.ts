/**
 * A media worker thread: rooms of an InProcessMediaServer (this thread's own media engine,
 * with its own ports) driven over the RPC of rpc.ts by the WorkerMediaServer on the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { engineStats, type MediaConfig } from '@roundtable/media';
import { SignalingError } from '../../net/Handlers.js';
import { InProcessMediaServer } from '../InProcessMediaServer.js';
import type { MediaRoom } from '../MediaServer.js';
import { serializeError, type ParamsOf, type ResultOf, type WorkerInit, type WorkerMessage, type WorkerMethod, type WorkerRequest, type WorkerRoomId } from './rpc.js';

const port = parentPort;
if (!port) throw new Error('workerMain runs in a media worker thread only');
const init = workerData as WorkerInit;
const server = new InProcessMediaServer(init.media as Partial<MediaConfig>);
const rooms = new Map<WorkerRoomId, MediaRoom>();

function post(message: WorkerMessage): void {
  port!.postMessage(message);
}

function room(roomId: WorkerRoomId): MediaRoom {
  const found = rooms.get(roomId);
  if (!found) throw new SignalingError('INVALID_STATE', `room ${roomId} is not on media worker ${init.index}`);
  return found;
}

type Handlers = { [M in WorkerMethod]: (params: ParamsOf<M>) => Promise<ResultOf<M>> };

const handlers: Handlers = {
  async createRoom({ roomId, label, options }) {
    const created = await server.createRoom(label, options);
    rooms.set(roomId, created);
    created.onCandidate((candidate) => post({ type: 'candidate', roomId, candidate }));
    created.onOffer((offer) => post({ type: 'offer', roomId, offer }));
    created.onSpeakers((speakers) => post({ type: 'speakers', roomId, speakers }));
    created.onLayers((layers) => post({ type: 'layers', roomId, layers }));
    created.onRecordingEnded((result) => post({ type: 'recordingEnded', roomId, result }));
    return null;
  },
  async join({ roomId, participant }) {
    await room(roomId).join(participant);
    return null;
  },
  receiveVideoFrom: ({ roomId, participant, sender, sdpOffer, options }) => room(roomId).receiveVideoFrom(participant, sender, sdpOffer, options),
  publish: ({ roomId, participant, sdpOffer, renew }) => room(roomId).publish(participant, sdpOffer, { renew }),
  async subscribeAnswer({ roomId, participant, sdpAnswer }) {
    await room(roomId).subscribeAnswer(participant, sdpAnswer);
    return null;
  },
  async requestVideo({ roomId, participant, publisher, request }) {
    await room(roomId).requestVideo(participant, publisher, request);
    return null;
  },
  async restartReceiving({ roomId, participant }) {
    await room(roomId).restartReceiving(participant);
    return null;
  },
  async repeatOffer({ roomId, participant }) {
    await room(roomId).repeatOffer(participant);
    return null;
  },
  connectionCount: ({ roomId }) => room(roomId).connectionCount(),
  async addIceCandidate({ roomId, participant, sender, candidate }) {
    await room(roomId).addIceCandidate(participant, sender, candidate);
    return null;
  },
  async leave({ roomId, participant }) {
    await rooms.get(roomId)?.leave(participant);
    return null;
  },
  participants: async ({ roomId }) => room(roomId).participants(),
  async startRecording({ roomId, options }) {
    await room(roomId).startRecording(options);
    return null;
  },
  stopRecording: async ({ roomId }) => (await rooms.get(roomId)?.stopRecording()) ?? null,
  async close({ roomId }) {
    const closing = rooms.get(roomId);
    rooms.delete(roomId);
    await closing?.close();
    return null;
  },
  engineStats: async () => engineStats(),
  async shutdown() {
    rooms.clear();
    await server.close();
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

port.on('message', (request: WorkerRequest) => {
  const handler = handlers[request.method] as (params: unknown) => Promise<unknown>;
  handler(request.params).then(
    (result) => post({ type: 'response', id: request.id, ok: true, result }),
    (error: unknown) => post({ type: 'response', id: request.id, ok: false, error: serializeError(error) }),
  );
});
post({ type: 'ready' });
