// Loopback test page: sends camera + microphone to the media server over WebRTC and
// plays what comes back. Signaling is JSON over the /ws/loopback WebSocket with trickle ICE.
// Plain browser JavaScript, no build step.
//
// Exposes window.roundtableLoopback = { pc, state } so tests can read pc.getStats().

const STATS_INTERVAL_MS = 1000;

const $ = (id) => document.getElementById(id);
const ui = {
  start: $('start'),
  stop: $('stop'),
  localVideo: $('localVideo'),
  remoteVideo: $('remoteVideo'),
  phase: $('phase'),
  connectionState: $('connectionState'),
  rtt: $('rtt'),
  framesDecoded: $('framesDecoded'),
  audioPackets: $('audioPackets'),
  errors: $('errors'),
};

/** What the page knows; read by people (rendered) and by tests. */
const state = {
  phase: 'idle', // idle | starting | connecting | connected | stopped | failed
  connectionState: null,
  roundTripTimeMs: null,
  framesDecoded: null,
  audioPacketsReceived: null,
  errors: [],
};
const loopback = { pc: null, state };
window.roundtableLoopback = loopback;

/** Everything one run opens; released by stop(). */
let run = null;

function render() {
  ui.phase.textContent = state.phase;
  ui.connectionState.textContent = state.connectionState ?? '-';
  ui.rtt.textContent = state.roundTripTimeMs === null ? '-' : `${state.roundTripTimeMs.toFixed(1)} ms`;
  ui.framesDecoded.textContent = state.framesDecoded ?? '-';
  ui.audioPackets.textContent = state.audioPacketsReceived ?? '-';
  ui.start.disabled = run !== null;
  ui.stop.disabled = run === null;
}

function setPhase(phase) {
  state.phase = phase;
  render();
}

function showError(text) {
  console.error(`loopback: ${text}`);
  state.errors.push(text);
  const item = document.createElement('li');
  item.textContent = text;
  ui.errors.append(item);
}

function fail(error) {
  showError(error instanceof Error ? error.message : String(error));
  stop('failed');
}

function openSocket() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/ws/loopback`);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('could not connect to the signaling WebSocket'));
  });
}

/** Handlers for server messages, keyed by id. Each gets the parsed message. */
const handlers = {
  async startResponse(msg, r) {
    await r.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdpAnswer });
    r.remoteDescriptionSet = true;
    for (const candidate of r.pendingRemoteCandidates.splice(0)) await r.pc.addIceCandidate(candidate);
    setPhase('connecting');
  },
  async iceCandidate(msg, r) {
    if (r.remoteDescriptionSet) await r.pc.addIceCandidate(msg.candidate);
    else r.pendingRemoteCandidates.push(msg.candidate);
  },
  error(msg) {
    showError(`server: ${msg.message}`);
  },
};

function send(r, message) {
  if (r.ws.readyState === WebSocket.OPEN) r.ws.send(JSON.stringify(message));
}

async function start() {
  if (run) return;
  state.errors.length = 0;
  ui.errors.replaceChildren();
  state.roundTripTimeMs = state.framesDecoded = state.audioPacketsReceived = state.connectionState = null;
  const r = {
    ws: null,
    pc: null,
    localStream: null,
    statsTimer: null,
    offerSent: false,
    localCandidates: [],
    remoteDescriptionSet: false,
    pendingRemoteCandidates: [],
    // Server messages are handled one after another, in arrival order.
    inbox: Promise.resolve(),
  };
  run = r;
  setPhase('starting');
  try {
    if (!navigator.mediaDevices) {
      throw new Error('camera access needs a secure context: open this page on http://localhost or over https');
    }
    r.localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    if (run !== r) {
      for (const track of r.localStream.getTracks()) track.stop();
      return;
    }
    ui.localVideo.srcObject = r.localStream;

    r.ws = await openSocket();
    if (run !== r) {
      r.ws.close();
      return;
    }
    r.ws.onmessage = (event) => {
      r.inbox = r.inbox.then(() => handleServerMessage(r, event.data)).catch(fail);
    };
    r.ws.onclose = () => {
      if (run === r) fail(new Error('the signaling WebSocket closed'));
    };

    const pc = new RTCPeerConnection();
    r.pc = pc;
    loopback.pc = pc;
    for (const track of r.localStream.getTracks()) {
      pc.addTransceiver(track, { direction: 'sendrecv', streams: [r.localStream] });
    }
    const remoteStream = new window.MediaStream();
    ui.remoteVideo.srcObject = remoteStream;
    pc.ontrack = (event) => remoteStream.addTrack(event.track);
    pc.onicecandidate = (event) => {
      // A null candidate (or an empty one) only marks the end of gathering.
      if (!event.candidate || !event.candidate.candidate) return;
      const candidate = event.candidate.toJSON();
      if (r.offerSent) send(r, { id: 'onIceCandidate', candidate });
      else r.localCandidates.push(candidate);
    };
    pc.onconnectionstatechange = () => {
      state.connectionState = pc.connectionState;
      if (pc.connectionState === 'connected') setPhase('connected');
      else if (pc.connectionState === 'failed') fail(new Error('the WebRTC connection failed'));
      else render();
    };

    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    send(r, { id: 'start', sdpOffer: pc.localDescription.sdp });
    r.offerSent = true;
    for (const candidate of r.localCandidates.splice(0)) send(r, { id: 'onIceCandidate', candidate });

    r.statsTimer = setInterval(() => {
      updateStats(r).catch((error) => console.warn('loopback: getStats failed', error));
    }, STATS_INTERVAL_MS);
  } catch (error) {
    if (run === r) fail(error);
  }
}

async function handleServerMessage(r, data) {
  if (run !== r) return;
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    showError('server sent a message that is not JSON');
    return;
  }
  const handler = msg && typeof msg.id === 'string' && Object.hasOwn(handlers, msg.id) ? handlers[msg.id] : null;
  if (!handler) {
    showError(`server sent an unknown message: ${String(msg && msg.id)}`);
    return;
  }
  await handler(msg, r);
}

async function updateStats(r) {
  const report = await r.pc.getStats();
  let selectedPairId = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) selectedPairId = s.selectedCandidatePairId;
  });
  report.forEach((s) => {
    if (s.type === 'candidate-pair') {
      const selected = selectedPairId ? s.id === selectedPairId : s.nominated && s.state === 'succeeded';
      if (selected && typeof s.currentRoundTripTime === 'number') state.roundTripTimeMs = s.currentRoundTripTime * 1000;
    } else if (s.type === 'inbound-rtp' && s.kind === 'video') {
      state.framesDecoded = s.framesDecoded ?? 0;
    } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      state.audioPacketsReceived = s.packetsReceived ?? 0;
    }
  });
  if (run === r) render();
}

function stop(phase = 'stopped') {
  const r = run;
  run = null;
  if (r) {
    clearInterval(r.statsTimer);
    if (r.ws) {
      r.ws.onclose = null;
      send(r, { id: 'stop' });
      r.ws.close();
    }
    if (r.pc) r.pc.close();
    if (r.localStream) for (const track of r.localStream.getTracks()) track.stop();
  }
  setPhase(phase);
}

ui.start.addEventListener('click', () => start());
ui.stop.addEventListener('click', () => stop());
window.addEventListener('pagehide', () => stop());
render();
