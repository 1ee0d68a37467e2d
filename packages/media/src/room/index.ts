export { TransportRoom, type TransportRoomOptions, type TransportRoomEvents, type TransportRoomAudio, type RoomTrack } from './TransportRoom.js';
export { ActiveSpeaker, type ActiveSpeakerOptions, type ActiveSpeakerEvents, type SpeakerUpdate } from './ActiveSpeaker.js';
export { TransportBridge, type TransportBridgeEvents } from './TransportBridge.js';
