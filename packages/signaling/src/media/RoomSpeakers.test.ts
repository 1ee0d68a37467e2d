import { describe, expect, it } from 'vitest';
import { packetPathsUnderTest, wrtcAudioMember } from '@roundtable/media/testing';
import { until } from '../testing/wait.js';
import { InProcessMediaServer } from './InProcessMediaServer.js';
import type { MediaServer, RoomSpeakers } from './MediaServer.js';
import { WorkerMediaServer } from './workers/WorkerMediaServer.js';


// On each packet path: JavaScript reads the levels on the TypeScript one, the core on the native one.
const implementations: Array<[string, () => Promise<MediaServer>]> = packetPathsUnderTest().flatMap((packetCore): Array<[string, () => Promise<MediaServer>]> => {
  const media = { iceAddresses: ['127.0.0.1'], packetCore };
  return [
    [`in process (${packetCore} packet path)`, async () => new InProcessMediaServer({ ...media, portRange: [63240, 63269] })],
    [`on a media worker thread (${packetCore} packet path)`, async () => WorkerMediaServer.start({ media: { ...media, portRange: [63270, 63299] }, workers: 1 })],
  ];
});

const participant = wrtcAudioMember;

describe.each(implementations)('who speaks in a bundled room, %s', (_name, make) => {
  it('onSpeakers tells the dominant speaker and everyone\'s levels: the one with signal, not the silent ones', async () => {
    const server = await make();
    const room = await server.createRoom('speakers');
    const people = { ann: participant(true), ben: participant(false), cat: participant(false) };
    const told: RoomSpeakers[] = [];
    let stopping = false;
    const errors: unknown[] = [];
    room.onSpeakers((s) => told.push(s));
    room.onOffer((o) => {
      const pc = people[o.participant as keyof typeof people].recv;
      void (async () => {
        await pc.setRemoteDescription({ type: 'offer', sdp: o.sdp });
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        await room.subscribeAnswer(o.participant, answer.sdp!);
      })().catch((error: unknown) => {
        // Offers still come while the test closes its peers; an error before then fails the test.
        if (!stopping) errors.push(error);
      });
    });
    try {
      for (const [name, p] of Object.entries(people)) {
        await room.join(name);
        const offer = await p.send.createOffer();
        await p.send.setLocalDescription(offer);
        await p.send.setRemoteDescription({ type: 'answer', sdp: await room.publish(name, offer.sdp!) });
      }
      await until(() => told.some((s) => s.speaker === 'ann' && Object.keys(s.levels).length === 3), 20_000);
      const named = told.find((s) => s.speaker === 'ann' && Object.keys(s.levels).length === 3)!;
      expect(named.levels['ann']).toBeGreaterThan(0.05);
      expect(named.levels['ben']).toBe(0);
      expect(named.levels['cat']).toBe(0);
      // Ann leaves: nobody speaks.
      await room.leave('ann');
      await until(() => told.at(-1)?.speaker === null, 10_000);
      expect(Object.keys(told.at(-1)!.levels).sort()).toEqual(['ben', 'cat']);
      expect(errors).toEqual([]);
    } finally {
      stopping = true;
      for (const p of Object.values(people)) p.stop();
      await room.close();
      await server.close();
    }
  }, 60_000);
});
