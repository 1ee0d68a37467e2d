import { createSocket, type Socket } from 'node:dgram';

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const XOR_MAPPED_ADDRESS = 0x0020;

/**
 * A minimal STUN binding server (RFC 5389, IPv4, UDP): answers each Binding Request
 * with the sender's address. Enough for peers to learn their reflexive address; used
 * by tests as the loopback STUN server every WebRTC peer is given.
 */
export class StunServer {
  private socket: Socket | undefined;
  requests = 0;

  async listen(port = 0, host = '127.0.0.1'): Promise<{ host: string; port: number; url: string }> {
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => resolve());
    });
    const address = socket.address();
    return { host: address.address, port: address.port, url: `stun:${address.address}:${address.port}` };
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    if (msg.length < 20 || msg.readUInt16BE(0) !== BINDING_REQUEST || msg.readUInt32BE(4) !== MAGIC_COOKIE) return;
    const octets = address.split('.').map(Number);
    if (octets.length !== 4) return;
    this.requests++;
    const response = Buffer.alloc(32);
    response.writeUInt16BE(BINDING_SUCCESS, 0);
    response.writeUInt16BE(12, 2);
    response.writeUInt32BE(MAGIC_COOKIE, 4);
    msg.copy(response, 8, 8, 20);
    response.writeUInt16BE(XOR_MAPPED_ADDRESS, 20);
    response.writeUInt16BE(8, 22);
    response.writeUInt8(0, 24);
    response.writeUInt8(0x01, 25);
    response.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 26);
    const ip = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
    response.writeUInt32BE((ip ^ MAGIC_COOKIE) >>> 0, 28);
    this.socket?.send(response, port, address);
  }
}
