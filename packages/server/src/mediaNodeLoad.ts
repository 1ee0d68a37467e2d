import { WebRtcEndpoint, type Engine } from '@roundtable/media';
import type { MediaNodeLoad, MediaNodeRooms } from '@roundtable/signaling';

/**
 * This process's media load, for its media-node heartbeat: rooms are its media
 * pipelines; participants are those of the rooms it holds for signaling nodes (`rooms`),
 * and for the pipelines of other Kurento clients are counted from their WebRTC endpoints
 * (a room of n people in the Kurento group-call model has n uplinks and n(n-1)
 * downlinks, n² in all); CPU is what the process used since the previous call, in cores.
 */
export function mediaNodeLoadMeter(engine: Engine, rooms: MediaNodeRooms): () => MediaNodeLoad {
  let lastCpu = process.cpuUsage();
  let lastAt = process.hrtime.bigint();
  return () => {
    let pipelines = 0;
    let participants = rooms.load().participants;
    for (const pipeline of engine.pipelines()) {
      pipelines++;
      if (rooms.holds(pipeline)) continue;
      const endpoints = pipeline.getElements().filter((e) => e instanceof WebRtcEndpoint).length;
      participants += Math.round(Math.sqrt(endpoints));
    }
    const cpu = process.cpuUsage(lastCpu);
    const now = process.hrtime.bigint();
    const elapsedUs = Number(now - lastAt) / 1000;
    lastCpu = process.cpuUsage();
    lastAt = now;
    return { rooms: pipelines, participants, cpu: elapsedUs > 0 ? (cpu.user + cpu.system) / elapsedUs : 0 };
  };
}
