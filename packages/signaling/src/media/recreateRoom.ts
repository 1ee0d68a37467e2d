import type { MediaRoom, MediaServer, RoomOptions } from './MediaServer.js';

/** Whether a room this server lost can be made again: on media nodes another node takes it (the lost one stopped). */
export function movesLostRooms(server: MediaServer): boolean {
  return server.kind === 'nodes';
}

/**
 * Makes a lost media room again (on media nodes: on a node still alive) and takes its
 * people into it: what open rooms and calls both do when their media node stops.
 * `adopt` is called with the new room before anyone joins it: it wires the room in and
 * answers whom to take in, or undefined when the room or call is over by then (the new
 * room is closed and undefined returned). A failure closes what was made and rejects.
 */
export async function recreateRoom(server: MediaServer, label: string, options: RoomOptions, adopt: (room: MediaRoom) => Iterable<string> | undefined): Promise<MediaRoom | undefined> {
  const room = await server.createRoom(label, options);
  try {
    const people = adopt(room);
    if (!people) {
      await room.close();
      return undefined;
    }
    for (const participant of [...people]) await room.join(participant);
    return room;
  } catch (error) {
    await room.close().catch(() => undefined);
    throw error;
  }
}
