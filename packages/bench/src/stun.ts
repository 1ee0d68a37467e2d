import { createSocket, type Socket } from 'node:dgram';

/**
 * A minimal STUN binding server (RFC 5389, IPv4, UDP) on the bench's own address, so
 * every werift peer of the load generator has an explicit STUN server that stays on
 * the machine (werift would otherwise ask a public one).
 */
export class StunServer {
  private socket: Socket | undefined;

  async listen(host: string): Promise<string> {
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.answer(socket, msg, rinfo.address, rinfo.port));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => resolve());
    });
    return `stun:${host}:${socket.address().port}`;
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  private answer(socket: Socket, msg: Buffer, address: string, port: number): void {
    // Binding Request with the magic cookie.
    if (msg.length < 20 || msg.readUInt16BE(0) !== 0x0001 || msg.readUInt32BE(4) !== 0x2112a442) return;
    const octets = address.split('.').map(Number);
    if (octets.length !== 4) return;
    const response = Buffer.alloc(32);
    response.writeUInt16BE(0x0101, 0); // Binding Success
    response.writeUInt16BE(12, 2);
    msg.copy(response, 4, 4, 20); // cookie + transaction id
    response.writeUInt16BE(0x0020, 20); // XOR-MAPPED-ADDRESS
    response.writeUInt16BE(8, 22);
    response.writeUInt16BE(0x0001, 24);
    response.writeUInt16BE(port ^ 0x2112, 26);
    const ip = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
    response.writeUInt32BE((ip ^ 0x2112a442) >>> 0, 28);
    socket.send(response, port, address);
  }
}
