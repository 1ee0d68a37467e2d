import { describe, expect, it } from 'vitest';
import type { AudioLevelReading } from '../transport/audioLevel.js';
import { ActiveSpeaker, type SpeakerUpdate } from './ActiveSpeaker.js';

/** A participant whose level the test sets before each period. */
function voice(): { level: number; read: () => AudioLevelReading } {
  const v = { level: 0, read: (): AudioLevelReading => ({ level: v.level, packets: 10, voicePackets: 0 }) };
  return v;
}

function setup(): { speaker: ActiveSpeaker; updates: SpeakerUpdate[]; alice: ReturnType<typeof voice>; bob: ReturnType<typeof voice>; carol: ReturnType<typeof voice> } {
  const speaker = new ActiveSpeaker({ intervalMs: 60_000 });
  const updates: SpeakerUpdate[] = [];
  speaker.on('update', (u) => updates.push(u));
  const alice = voice();
  const bob = voice();
  const carol = voice();
  speaker.add('alice', alice.read);
  speaker.add('bob', bob.read);
  speaker.add('carol', carol.read);
  return { speaker, updates, alice, bob, carol };
}

describe('ActiveSpeaker', () => {
  it('makes the one who speaks the speaker at their first loud period, and reports everyone\'s level', () => {
    const { speaker, updates, alice } = setup();
    speaker.tick();
    expect(speaker.speaker).toBeNull();
    alice.level = 0.2;
    speaker.tick();
    expect(speaker.speaker).toBe('alice');
    expect(updates.at(-1)).toEqual({ speaker: 'alice', levels: { alice: 0.2, bob: 0, carol: 0 } });
    speaker.close();
  });

  it('keeps the speaker through short pauses (a beep every 500 ms) and lets go after about a second of silence', () => {
    const { speaker, alice } = setup();
    for (let i = 0; i < 20; i++) {
      alice.level = i % 5 < 2 ? 0.3 : 0;
      speaker.tick();
      if (i > 0) expect(speaker.speaker).toBe('alice');
    }
    alice.level = 0;
    let silentPeriods = 0;
    while (speaker.speaker !== null && silentPeriods < 50) {
      speaker.tick();
      silentPeriods++;
    }
    expect(silentPeriods).toBeGreaterThanOrEqual(3);
    expect(silentPeriods).toBeLessThanOrEqual(10);
    speaker.close();
  });

  it('does not hand the floor to someone who only speaks up briefly, and does to someone who takes over', () => {
    const { speaker, alice, bob } = setup();
    alice.level = 0.3;
    for (let i = 0; i < 10; i++) speaker.tick();
    // Bob says one word over Alice: no switch.
    bob.level = 0.3;
    speaker.tick();
    bob.level = 0;
    speaker.tick();
    expect(speaker.speaker).toBe('alice');
    // Alice stops, Bob goes on: Bob takes over once clearly more active.
    alice.level = 0;
    bob.level = 0.3;
    const seen: Array<string | null> = [];
    for (let i = 0; i < 10; i++) {
      speaker.tick();
      seen.push(speaker.speaker);
    }
    expect(seen.at(-1)).toBe('bob');
    // One switch only, no flapping back.
    expect(seen.slice(seen.indexOf('bob'))).toEqual(seen.slice(seen.indexOf('bob')).map(() => 'bob'));
    speaker.close();
  });

  it('two speaking at once keep the one who had the floor', () => {
    const { speaker, alice, bob } = setup();
    alice.level = 0.3;
    for (let i = 0; i < 5; i++) speaker.tick();
    bob.level = 0.5;
    for (let i = 0; i < 20; i++) {
      speaker.tick();
      expect(speaker.speaker).toBe('alice');
    }
    speaker.close();
  });

  it('a speaker who leaves is replaced at once, and emits nothing when nothing changed', () => {
    const { speaker, updates, alice, bob } = setup();
    alice.level = 0.3;
    bob.level = 0.3;
    speaker.tick();
    expect(speaker.speaker).toBe('alice');
    speaker.remove('alice');
    expect(updates.at(-1)).toEqual({ speaker: null, levels: { bob: 0.3, carol: 0 } });
    speaker.tick();
    expect(speaker.speaker).toBe('bob');
    const count = updates.length;
    speaker.tick();
    expect(updates.length).toBe(count);
    speaker.close();
  });
});
