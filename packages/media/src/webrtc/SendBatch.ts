import type { Socket } from 'node:dgram';

/** Sends queued before a flush is forced, far below the send ring's 1024 slots. */
const MAX_QUEUED = 256;

const sockets: Array<Socket | undefined> = [];
const buffers: Array<Buffer | undefined> = [];
const lengths: number[] = [];
const ports: number[] = [];
const addresses: string[] = [];
let queued = 0;
let scheduled = false;

/**
 * Queues a datagram; the queue goes to the kernel back to back at the end of the
 * current task (a microtask), i.e. once a packet's whole fan-out has been written and
 * protected. Sending the copies of one packet together instead of one per subscriber
 * between two encryptions costs the kernel fewer wake-ups of the receiving processes
 * (docs/performance.md). `buf` must stay untouched until then: the fast path's buffers
 * come from a ring of 1024 slots, and at most MAX_QUEUED sends wait.
 */
export function queueSend(socket: Socket, buf: Buffer, length: number, port: number, address: string): void {
  const i = queued++;
  sockets[i] = socket;
  buffers[i] = buf;
  lengths[i] = length;
  ports[i] = port;
  addresses[i] = address;
  if (queued >= MAX_QUEUED) {
    flushSends();
    return;
  }
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(flushSends);
  }
}

/** Sends everything queued now. */
export function flushSends(): void {
  scheduled = false;
  const n = queued;
  queued = 0;
  for (let i = 0; i < n; i++) {
    const socket = sockets[i]!;
    const buf = buffers[i]!;
    sockets[i] = undefined;
    buffers[i] = undefined;
    try {
      socket.send(buf, 0, lengths[i]!, ports[i]!, addresses[i]!);
    } catch {
      // a socket closed under us: the datagram is lost, as on the wire
    }
  }
}
