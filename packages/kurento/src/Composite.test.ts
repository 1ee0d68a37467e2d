import type { KurentoClientInstance, KurentoElement, MediaPipeline } from 'kurento-client';
import { liveChildPids } from '@roundtable/media';
import { createWeriftPeer, decodeVp8, McuTestPeer, type McuTestPeerOptions } from '@roundtable/media/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { useKurentoHarness } from './testing/harness.js';
import { connectThroughKurento, until } from './testing/kurentoPeers.js';

const h = useKurentoHarness([56200, 56399]);
const cleanup = h.cleanup;
const TONES = [440, 660, 990];

afterAll(async () => {
  await until(() => liveChildPids().length === 0, 10_000);
});

const kurento = (): Promise<KurentoClientInstance> => h.officialClient();

interface Member {
  peer: McuTestPeer;
  ep: KurentoElement;
  port: KurentoElement;
}

/** A werift peer in the Composite as the Kurento group-call tutorials wire it: endpoint <-> HubPort. */
async function join(pipeline: MediaPipeline, composite: KurentoElement, options: McuTestPeerOptions): Promise<Member> {
  const pc = createWeriftPeer(h.stunUrl);
  cleanup.push(() => pc.close());
  const peer = new McuTestPeer(options);
  cleanup.push(() => peer.close());
  peer.attach(pc);
  const ep = await pipeline.create('WebRtcEndpoint');
  const port = (await (composite.createHubPort as () => Promise<KurentoElement>)()) as KurentoElement;
  await ep.connect(port);
  await port.connect(ep);
  await connectThroughKurento(pc, ep);
  await peer.start();
  return { peer, ep, port };
}

function hears(peer: McuTestPeer, present: number[], absent: number[]): boolean {
  const levels = peer.levels([...present, ...absent]);
  return present.every((f) => levels.get(f)! > 1500) && absent.every((f) => levels.get(f)! < 300);
}

describe('Composite (MCU), driven by the official kurento-client', () => {
  it('3 peers each hear the two other tones and not their own, and receive one decodable VP8 grid', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const composite = await pipeline.create('Composite');
    const colors = ['red', 'green', 'blue'] as const;
    const members: Member[] = [];
    for (let i = 0; i < 3; i++) members.push(await join(pipeline, composite, { frequency: TONES[i]!, video: { port: 56950 + i, color: colors[i]! } }));

    await until(() => members.every((m, i) => hears(m.peer, TONES.filter((_, j) => j !== i), [TONES[i]!])), 30_000);
    await until(() => members.every((m) => m.peer.receivedVideo.length > 80), 30_000);

    for (const m of members) {
      const video = await decodeVp8(m.peer.receivedVideo);
      expect([video.width, video.height]).toEqual([640, 480]);
      expect(video.frames.length).toBeGreaterThan(3);
      // Not black: the grid holds the three coloured pictures.
      const last = video.frames.at(-1)!;
      let lit = 0;
      for (let i = 0; i < last.length; i += 3 * 97) if (last[i]! + last[i + 1]! + last[i + 2]! > 150) lit++;
      expect(lit / (last.length / (3 * 97))).toBeGreaterThan(0.5);
    }
    expect(await members[0]!.ep.isMediaFlowingIn('AUDIO')).toBe(true);
    await pipeline.release();
  });

  it('ports join and leave mid-mix; a silent port does not stall the others', async () => {
    const client = await kurento();
    const pipeline = await client.create('MediaPipeline');
    const composite = await pipeline.create('Composite');
    const a = await join(pipeline, composite, { frequency: 440 });
    const b = await join(pipeline, composite, { frequency: 660 });
    b.peer.silent = true;
    await until(() => a.peer.receivedPcm.length > 50 && hears(b.peer, [440], [660]));

    const c = await join(pipeline, composite, { frequency: 990 });
    await until(() => hears(a.peer, [990], [440, 660]) && hears(c.peer, [440], [990]), 20_000);
    b.peer.silent = false;
    await until(() => hears(a.peer, [660, 990], [440]), 20_000);

    await b.port.release();
    await until(() => hears(a.peer, [990], [440, 660]) && hears(c.peer, [440], [660, 990]), 20_000);
    await pipeline.release();
  });

  it('bad input gets a clear error: a port of another pipeline cannot be connected, and a HubPort needs a hub', async () => {
    const client = await kurento();
    const p1 = await client.create('MediaPipeline');
    const p2 = await client.create('MediaPipeline');
    const composite = await p1.create('Composite');
    const port = (await (composite.createHubPort as () => Promise<KurentoElement>)()) as KurentoElement;
    const ep = await p2.create('WebRtcEndpoint');

    // The official client's connect() promise hides errors (it resolves to the sink): use its callback.
    const connectError = await new Promise<unknown>((resolve) => {
      (ep.connect as unknown as (sink: KurentoElement, cb: (error: unknown) => void) => void)(port, (error) => resolve(error));
    });
    expect(connectError).toMatchObject({ message: expect.stringContaining('another pipeline') });
    await expect(client.create('HubPort', { hub: ep })).rejects.toMatchObject({ message: expect.stringContaining('must be a Hub') });
    await p1.release();
    await p2.release();
  });
});
