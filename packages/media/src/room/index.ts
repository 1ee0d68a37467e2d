export { TransportRoom, type TransportRoomOptions, type TransportRoomEvents, type TransportRoomAudio, type RoomTrack } from './TransportRoom.js';
export { TransportBridge, type TransportBridgeEvents } from './TransportBridge.js';
