import { describe, expect, it } from 'vitest';
import { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import WebSocket from 'ws';
import type { MediaDevicesLike, PeerConnectionConstructor, TrackLike, WebSocketConstructor } from './platform.js';

describe('platform types', () => {
  it('ws and werift fit the injected constructor types', () => {
    const ws: WebSocketConstructor = WebSocket;
    const pc: PeerConnectionConstructor = WeriftPeerConnection;
    expect([typeof ws, typeof pc]).toEqual(['function', 'function']);
  });

  it("the browser's RTCPeerConnection and WebSocket (DOM types) fit them too", () => {
    const fits: [typeof RTCPeerConnection extends PeerConnectionConstructor ? true : false, typeof globalThis.WebSocket extends WebSocketConstructor ? true : false] = [true, true];
    expect(fits).toEqual([true, true]);
  });

  it("the browser's MediaStreamTrack and navigator.mediaDevices (DOM types) fit TrackLike and MediaDevicesLike", () => {
    const fits: [MediaStreamTrack extends TrackLike ? true : false, MediaDevices extends MediaDevicesLike ? true : false] = [true, true];
    expect(fits).toEqual([true, true]);
  });
});
