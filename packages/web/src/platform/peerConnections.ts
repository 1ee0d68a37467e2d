/**
 * The browser's RTCPeerConnection, registered while open so the app can read
 * getStats() (quality indicator, the debug hook) and swap the camera for a screen
 * share: the SDK does not expose its peer connections. Handed to the SDK as
 * `options.RTCPeerConnection`.
 */
const open = new Set<RTCPeerConnection>();

export class TrackedPeerConnection extends RTCPeerConnection {
  constructor(config?: RTCConfiguration) {
    super(config);
    open.add(this);
    this.addEventListener('connectionstatechange', () => {
      if (this.connectionState === 'closed') open.delete(this);
    });
  }

  override close(): void {
    open.delete(this);
    super.close();
  }
}

/** The peer connections open now (every call's, every link's). */
export function openPeerConnections(): RTCPeerConnection[] {
  return [...open].filter((pc) => pc.connectionState !== 'closed');
}
