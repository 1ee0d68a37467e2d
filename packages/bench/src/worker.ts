/**
 * A load-generator worker process: runs several simulated participants, on the
 * orchestrator's orders (IPC), and reports what they sent and received. Its CPU is
 * read by the orchestrator from /proc, apart from the server's.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AddCommand, JoinCommand, ParentMessage, WorkerMessage } from './ipc.js';
import { FloorParticipant } from './participants/FloorParticipant.js';
import { JanusParticipant } from './participants/JanusParticipant.js';
import type { Participant, ParticipantContext } from './participants/Participant.js';
import { RoundtableParticipant } from './participants/RoundtableParticipant.js';
import { Recorder } from './Recorder.js';
import { StunServer } from './stun.js';

const TICK_MS = 5;

let participants: Participant[] = [];
let recorder = new Recorder();
let ticker: NodeJS.Timeout | undefined;
const stun = new StunServer();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let stunUrl: string | undefined;

function post(message: WorkerMessage): void {
  process.send?.(message);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function create(command: JoinCommand | AddCommand, context: ParticipantContext): Participant[] {
  return command.participants.map((spec) => {
    switch (command.endpoint.kind) {
      case 'roundtable':
        return new RoundtableParticipant(spec, context);
      case 'janus':
        return new JanusParticipant(spec, context);
      case 'floor':
        return new FloorParticipant(spec, context);
    }
  });
}

async function join(command: JoinCommand): Promise<void> {
  stunUrl ??= await stun.listen(command.host);
  recorder = new Recorder();
  participants = create(command, { command, recorder, stunUrl });
  startTicker();
  // People do not all join in the same millisecond; and a burst of dozens of DTLS
  // handshakes at once only measures the handshake, not forwarding.
  await Promise.all(
    participants.map(async (p) => {
      await new Promise((resolve) => setTimeout(resolve, (p.spec.room * command.roomSize + p.spec.index) * command.joinStaggerMs));
      await p.join();
    }),
  );
}

/** The soak: more participants join the running ones, each as soon as it is created; a failed join is kept in its errors. */
async function add(command: AddCommand): Promise<void> {
  stunUrl ??= await stun.listen(command.host);
  const added = create(command, { command, recorder, stunUrl });
  participants.push(...added);
  startTicker();
  for (const p of added) {
    p.join().catch((error: unknown) => p.errors.push(`join: ${errorText(error)}`));
  }
}

/** The soak: these participants leave; the recorder forgets their downlinks. */
async function remove(ids: number[]): Promise<void> {
  const gone = new Set(ids);
  const leaving = participants.filter((p) => gone.has(p.id));
  participants = participants.filter((p) => !gone.has(p.id));
  await Promise.all(leaving.map((p) => p.close().catch(() => undefined)));
  recorder.forget(gone);
}

async function roomRequest(room: number, request: string, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
  const candidates = participants.filter((p): p is RoundtableParticipant => p instanceof RoundtableParticipant && p.spec.room === room && p.status().joined);
  if (candidates.length === 0) throw new Error(`no participant of room ${room} on this worker`);
  return candidates[0]!.roomRequest(request, fields);
}

function startTicker(): void {
  ticker ??= setInterval(() => {
    const now = performance.now();
    for (const p of participants) p.tick(now);
  }, TICK_MS);
}

async function leave(): Promise<void> {
  const leaving = participants;
  participants = [];
  await Promise.all(leaving.map((p) => p.close().catch(() => undefined)));
}

process.on('message', (raw) => {
  const message = raw as ParentMessage;
  switch (message.type) {
    case 'join':
      join(message).then(
        () => post({ type: 'joined' }),
        (error: unknown) => post({ type: 'joined', error: errorText(error) }),
      );
      break;
    case 'add':
      void add(message);
      break;
    case 'remove':
      void remove(message.ids).then(() => post({ type: 'removed' }));
      break;
    case 'roomRequest':
      roomRequest(message.room, message.request, message.fields).then(
        (result) => post({ type: 'roomAnswer', result }),
        (error: unknown) => post({ type: 'roomAnswer', error: errorText(error) }),
      );
      break;
    case 'subscribe':
      Promise.all(participants.map((p) => p.subscribe())).then(
        () => post({ type: 'subscribed' }),
        (error: unknown) => post({ type: 'subscribed', error: errorText(error) }),
      );
      break;
    case 'status':
      post({
        type: 'status',
        streamsFlowing: participants.reduce((n, p) => n + p.streamsFlowing, 0),
        streamsExpected: participants.reduce((n, p) => n + p.streamsExpected, 0),
        errors: participants.flatMap((p) => p.errors).slice(0, 5),
        participants: participants.map((p) => p.status()),
      });
      break;
    case 'window':
      recorder.setWindow(message.startUs, message.endUs);
      setTimeout(() => loopDelay.reset(), Math.max(0, (message.startUs - Number(process.hrtime.bigint() / 1000n)) / 1000));
      break;
    case 'collect':
      post({ type: 'report', report: recorder.report(participants.map((p) => p.joinInfo()), loopDelay.percentile(99) / 1e6) });
      break;
    case 'leave':
      void leave().then(() => post({ type: 'left' }));
      break;
    case 'exit':
      void leave().then(() => {
        if (ticker) clearInterval(ticker);
        stun.close();
        process.exit(0);
      });
      break;
  }
});

post({ type: 'ready' });
