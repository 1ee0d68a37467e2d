// A libwebrtc subscriber (@roamhq/wrtc) in its own process, so that a test can put it in
// another network namespace (`ip netns exec`) behind a shaped link. Driven over stdin and
// stdout with JSON lines: {offer, transportCc?: false} -> {answer}; {stats: true} -> {stats: {packets, bytes,
// framesDecoded, frameWidth}} (its inbound video). Usage: node wrtcSubscriber.mjs
import { createInterface } from 'node:readline';
import wrtc from '@roamhq/wrtc';

const pc = new wrtc.RTCPeerConnection();
const send = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);
pc.onconnectionstatechange = () => send({ state: pc.connectionState });

createInterface({ input: process.stdin }).on('line', async (line) => {
  const msg = JSON.parse(line);
  if (msg.offer) {
    await pc.setRemoteDescription({ type: 'offer', sdp: msg.offer });
    const answer = await pc.createAnswer();
    // {offer, transportCc: false}: an answer without transport-cc (the receiver then sends REMB).
    const sdp = msg.transportCc === false ? answer.sdp.replace(/a=extmap:\d+ http:\/\/www\.ietf\.org\/id\/draft-holmer[^\r]*\r\n/g, '').replace(/a=rtcp-fb:\d+ transport-cc\r\n/g, '') : answer.sdp;
    await pc.setLocalDescription({ type: 'answer', sdp });
    send({ answer: sdp });
  }
  if (msg.stats) {
    const stats = { packets: 0, bytes: 0, framesDecoded: 0, frameWidth: 0 };
    (await pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      stats.packets += s.packetsReceived ?? 0;
      stats.bytes += s.bytesReceived ?? 0;
      stats.framesDecoded += s.framesDecoded ?? 0;
      stats.frameWidth = s.frameWidth ?? stats.frameWidth;
    });
    send({ stats });
  }
  if (msg.close) {
    pc.close();
    process.exit(0);
  }
});
