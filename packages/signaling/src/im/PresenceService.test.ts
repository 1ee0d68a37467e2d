import type { UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import { SignalingError } from '../net/Handlers.js';
import { FakeRouter, type FakeLink } from '../testing/fakes.js';
import { PresenceService } from './PresenceService.js';

function setup(contacts: Record<string, string[]>) {
  const router = new FakeRouter();
  const presence = new PresenceService(router, { contacts: async (userId) => (contacts[userId] ?? []).map((id) => ({ id: id as UserId })) });
  const watch = (link: FakeLink, userIds: string[]) => presence.handlers()['presence.watch']!({ id: 1, type: 'presence.watch', userIds: userIds as UserId[] }, { link } as never);
  return { router, presence, watch };
}

describe('PresenceService', () => {
  it('presence.watch answers who is online and tells the watcher when a contact’s first device comes and last device goes', async () => {
    const { router, presence, watch } = setup({ alice: ['bob'] });
    const alice = router.connect('alice');
    expect(await watch(alice, ['bob'])).toEqual({ online: [] });
    const bob1 = router.connect('bob', 'b1');
    const bob2 = router.connect('bob', 'b2');
    router.disconnect(bob1);
    router.disconnect(bob2);
    expect(alice.received.filter((n) => n.type === 'presence')).toEqual([
      { type: 'presence', userId: 'bob', online: true },
      { type: 'presence', userId: 'bob', online: false },
    ]);
    router.connect('bob', 'b3');
    expect(await watch(alice, ['bob'])).toEqual({ online: ['bob'] });
    presence.close();
  });

  it('presence.watch of someone who is not a contact is FORBIDDEN and changes nothing', async () => {
    const { router, presence, watch } = setup({ alice: ['bob'] });
    const alice = router.connect('alice');
    await watch(alice, ['bob']);
    await expect(watch(alice, ['bob', 'mallory'])).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(watch(alice, ['mallory'])).rejects.toBeInstanceOf(SignalingError);
    router.connect('bob');
    expect(alice.received).toEqual([{ type: 'presence', userId: 'bob', online: true }]);
    presence.close();
  });

  it('a socket that goes is no longer told anything', async () => {
    const { router, presence, watch } = setup({ alice: ['bob'] });
    const alice = router.connect('alice');
    await watch(alice, ['bob']);
    router.disconnect(alice);
    router.connect('bob');
    expect(alice.received).toEqual([]);
    presence.close();
  });
});
