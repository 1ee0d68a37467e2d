/**
 * The floor: a bare Node dgram relay, run as its own process by the bench. It receives a
 * datagram and sends it to every other member of the sender's room: no ICE, no DTLS, no
 * SRTP, no header rewriting. What any SFU on this machine costs at least.
 *
 * Usage: node --import tsx floorRelay.ts HOST PORT
 */
import { createSocket } from 'node:dgram';

const [host = '127.0.0.1', portText = '0'] = process.argv.slice(2);
const socket = createSocket('udp4');
interface Member {
  key: string;
  address: string;
  port: number;
}
const rooms = new Map<number, Member[]>();
const roomOf = new Map<string, number>();

socket.on('message', (msg, rinfo) => {
  const key = `${rinfo.address}:${rinfo.port}`;
  if (msg.length >= 8 && msg.readUInt16BE(0) === 0xffff) {
    const room = msg.readUInt16BE(3);
    const members = rooms.get(room) ?? [];
    const known = members.some((m) => m.key === key);
    if (msg[2] === 0x01) {
      if (known) return; // a repeated join
      members.push({ key, address: rinfo.address, port: rinfo.port });
      roomOf.set(key, room);
      rooms.set(room, members);
    } else {
      roomOf.delete(key);
      rooms.set(room, members.filter((m) => m.key !== key));
    }
    return;
  }
  const room = roomOf.get(key);
  if (room === undefined) return;
  for (const m of rooms.get(room) ?? []) {
    if (m.key !== key) socket.send(msg, m.port, m.address);
  }
});
socket.bind(Number(portText), host, () => {
  process.stdout.write(`floor relay listening on ${host}:${socket.address().port}\n`);
});
process.on('SIGTERM', () => {
  socket.close();
  process.exit(0);
});
