import { createSocket, type Socket } from 'node:dgram';
import type { PlannedPacket } from '../traffic.js';
import { RTP_HEADER_BYTES } from '../traffic.js';
import { Participant } from './Participant.js';

/** Datagrams of the floor relay's own tiny protocol (first two bytes 0xffff). */
export const FLOOR_JOIN = 0x01;
export const FLOOR_LEAVE = 0x02;

/**
 * A participant of the bare UDP relay: one socket, registered with its room, that sends
 * RTP-sized datagrams (a 12-byte header then the same payload as the WebRTC targets)
 * with no ICE, no DTLS, no SRTP.
 */
export class FloorParticipant extends Participant {
  private socket: Socket | undefined;
  private relay: { host: string; port: number } | undefined;
  private readonly rtpHeader = Buffer.alloc(RTP_HEADER_BYTES);
  private rejoin: NodeJS.Timeout | undefined;

  protected async connect(): Promise<void> {
    const endpoint = this.context.command.endpoint;
    if (endpoint.kind !== 'floor') throw new Error('not a floor endpoint');
    this.relay = { host: endpoint.host, port: endpoint.port };
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (msg) => this.received(msg, RTP_HEADER_BYTES));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.bind(0, this.context.command.host, () => resolve()));
    this.rtpHeader[0] = 0x80;
    this.control(FLOOR_JOIN);
    // UDP: a lost join would leave this participant out for good; the relay treats a repeat as a no-op.
    this.rejoin = setInterval(() => this.control(FLOOR_JOIN), 1000);
    this.startPublishing();
  }

  /** A plain UDP socket, no peer connection. */
  protected connectionCount(): number {
    return 0;
  }

  protected transmit(planned: PlannedPacket, payload: Buffer): void {
    if (!this.socket || !this.relay) return;
    this.rtpHeader[1] = planned.kind === 'audio' ? 111 : 96;
    this.socket.send([this.rtpHeader, payload], this.relay.port, this.relay.host);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.rejoin) clearInterval(this.rejoin);
    this.control(FLOOR_LEAVE);
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    this.socket?.close();
  }

  private control(what: number): void {
    if (!this.socket || !this.relay) return;
    const msg = Buffer.alloc(8);
    msg.writeUInt16BE(0xffff, 0);
    msg[2] = what;
    msg.writeUInt16BE(this.spec.room, 3);
    msg.writeUInt16BE(0, 5);
    this.socket.send(msg, this.relay.port, this.relay.host);
  }
}
