/**
 * Does batching the sends of a forwarded packet pay? A relay receives ~1000 packets/s
 * and sends each to 8 sockets of another process, protecting every copy with the
 * engine's SrtpContext (AES_CM_128_HMAC_SHA1_80) first. "interleaved" sends each copy as
 * soon as it is protected (what the fast path does); "batched" protects all 8, then
 * sends them back to back (what a sendmmsg-style batch would do from JavaScript). The
 * relay's CPU per sent datagram, alternating rounds. Run:
 *   npx tsx packages/media/scripts/sendBench.ts
 * Results: docs/performance.md.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { SrtpContext, SrtpProfile } from '../src/srtp/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 4);
const FANOUT = 8;

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

if (process.argv[2] === 'receiver') {
  const ports: number[] = [];
  for (let i = 0; i < FANOUT; i++) {
    const s = await bound();
    s.on('message', () => undefined);
    ports.push(s.address().port);
  }
  process.send!(ports);
} else {
  const receiver = fork(fileURLToPath(import.meta.url), ['receiver'], { execArgv: process.execArgv });
  const ports = await new Promise<number[]>((resolve) => receiver.once('message', (m) => resolve(m as number[])));
  const out = await bound();
  const inbound = await bound();
  const contexts = ports.map(() => new SrtpContext(SrtpProfile.AES_CM_128_HMAC_SHA1_80, randomBytes(16), randomBytes(14)));
  const slots = ports.map(() => Buffer.alloc(1500));
  let mode: 'interleaved' | 'batched' = 'interleaved';
  let sent = 0;
  let seq = 0;
  inbound.on('message', (msg: Buffer) => {
    seq = (seq + 1) & 0xffff;
    const lengths: number[] = [];
    for (let i = 0; i < FANOUT; i++) {
      const buf = slots[i]!;
      msg.copy(buf);
      buf.writeUInt16BE(seq, 2);
      const n = contexts[i]!.protectRtp(buf, msg.length);
      if (mode === 'interleaved') out.send(buf, 0, n, ports[i]!, '127.0.0.1');
      else lengths.push(n);
    }
    if (mode === 'batched') for (let i = 0; i < FANOUT; i++) out.send(slots[i]!, 0, lengths[i]!, ports[i]!, '127.0.0.1');
    sent += FANOUT;
  });
  // ~1000 RTP packets/s of 1100 bytes from a third socket.
  const source = await bound();
  const packet = Buffer.alloc(1112);
  packet[0] = 0x80;
  packet[1] = 96;
  packet.writeUInt32BE(0x1234, 8);
  const timer = setInterval(() => {
    for (let i = 0; i < 5; i++) source.send(packet, inbound.address().port, '127.0.0.1');
  }, 5);
  const results: Record<string, number[]> = { interleaved: [], batched: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const m of r % 2 === 0 ? (['interleaved', 'batched'] as const) : (['batched', 'interleaved'] as const)) {
      mode = m;
      await new Promise((resolve) => setTimeout(resolve, 500));
      const cpu = process.cpuUsage();
      const before = sent;
      await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
      const used = process.cpuUsage(cpu);
      const perSend = (used.user + used.system) / (sent - before);
      results[m]!.push(perSend);
      console.log(`${m.padEnd(12)} round ${r + 1}: ${perSend.toFixed(2)} µs CPU per sent datagram (system ${(used.system / (sent - before)).toFixed(2)})`);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`median: interleaved ${median(results.interleaved!).toFixed(2)} µs, batched ${median(results.batched!).toFixed(2)} µs`);
  clearInterval(timer);
  receiver.kill();
  for (const s of [out, inbound, source]) s.close();
}
