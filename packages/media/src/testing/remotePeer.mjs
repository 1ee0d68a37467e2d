// A werift peer in its own process, driven over stdin/stdout with JSON lines, so a test
// can make a peer vanish without a goodbye (SIGKILL). Usage: node remotePeer.mjs <stunUrl>
import { createInterface } from 'node:readline';
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket } from 'werift';

const pc = new RTCPeerConnection({
  iceServers: [{ urls: process.argv[2] }],
  iceUseIpv4: false,
  iceUseIpv6: false,
  iceAdditionalHostAddresses: ['127.0.0.1'],
});
const send = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);
const track = new MediaStreamTrack({ kind: 'audio' });
pc.addTransceiver(track, { direction: 'sendonly' });
pc.onIceCandidate.subscribe((c) => c && send({ candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }));
pc.connectionStateChange.subscribe((state) => send({ state }));
let seq = 1;
setInterval(() => {
  if (pc.connectionState !== 'connected') return;
  track.writeRtp(new RtpPacket(new RtpHeader({ sequenceNumber: seq++ & 0xffff, timestamp: seq * 960, payloadType: 111 }), Buffer.alloc(60)));
}, 20);
createInterface({ input: process.stdin }).on('line', async (line) => {
  const msg = JSON.parse(line);
  if (msg.answer) await pc.setRemoteDescription({ type: 'answer', sdp: msg.answer });
  if (msg.candidate) await pc.addIceCandidate(msg);
});
await pc.setLocalDescription(await pc.createOffer());
send({ offer: pc.localDescription.sdp });
