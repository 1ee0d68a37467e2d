import wrtc from '@roamhq/wrtc';

const { RTCPeerConnection, nonstandard } = wrtc;
export type WrtcPeer = InstanceType<typeof RTCPeerConnection>;

export interface WrtcAudioMember {
  /** Sends the one audio track (libwebrtc offers the audio level extension, so its levels go with it). */
  send: WrtcPeer;
  /** For what the server offers back. */
  recv: WrtcPeer;
  /** Stops the source and closes both connections. */
  stop(): void;
}

/** A libwebrtc room member sending one audio track, a 440 Hz tone or digital silence, and receiving on a second connection. */
export function wrtcAudioMember(tone: boolean): WrtcAudioMember {
  const send = new RTCPeerConnection();
  const recv = new RTCPeerConnection();
  const source = new nonstandard.RTCAudioSource();
  send.addTransceiver(source.createTrack(), { direction: 'sendonly' });
  const samples = new Int16Array(480);
  let phase = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < samples.length; i++) samples[i] = tone ? Math.round(8000 * Math.sin((2 * Math.PI * 440 * phase++) / 48000)) : 0;
    source.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
  }, 10);
  return {
    send,
    recv,
    stop: () => {
      clearInterval(timer);
      send.close();
      recv.close();
    },
  };
}
