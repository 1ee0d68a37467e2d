import { describe, expect, it, vi } from 'vitest';
import type { DeviceId, ServerNotification, UserId } from '@roundtable/protocol';
import { InMemoryRouter } from './InMemoryRouter.js';
import type { DeviceLink } from './Router.js';

function link(userId: string, deviceId: string): DeviceLink & { inbox: ServerNotification[] } {
  const inbox: ServerNotification[] = [];
  return { userId: userId as UserId, deviceId: deviceId as DeviceId, inbox, send: (n) => inbox.push(n) };
}

const note: ServerNotification = { type: 'session.ended', reason: 'expired' };
const alice = 'alice' as UserId;

describe('InMemoryRouter', () => {
  it('sendToUser() reaches every device of the user but the excepted one, and counts them', () => {
    const router = new InMemoryRouter();
    const [a1, a2, b1] = [link('alice', 'a1'), link('alice', 'a2'), link('bob', 'b1')];
    for (const l of [a1, a2, b1]) router.addLink(l);
    expect(router.sendToUser(alice, note)).toBe(2);
    expect(router.sendToUser(alice, note, a1)).toBe(1);
    expect([a1.inbox.length, a2.inbox.length, b1.inbox.length]).toEqual([1, 2, 0]);
    expect(router.sendToUser('nobody' as UserId, note)).toBe(0);
  });

  it('onDeviceAdded() hears each new device once (adding the same link again is no news); a throwing listener does not stop the others', () => {
    const router = new InMemoryRouter();
    const heard: string[] = [];
    router.onDeviceAdded(() => {
      throw new Error('bad listener');
    });
    const off = router.onDeviceAdded((l) => heard.push(l.deviceId));
    const a1 = link('alice', 'a1');
    router.addLink(a1);
    router.addLink(a1);
    router.addLink(link('alice', 'a2'));
    off();
    router.addLink(link('bob', 'b1'));
    expect(heard).toEqual(['a1', 'a2']);
  });

  it('tracks presence as devices come and go', () => {
    const router = new InMemoryRouter();
    const [a1, a2] = [link('alice', 'a1'), link('alice', 'a2')];
    router.addLink(a1);
    router.addLink(a2);
    expect(router.devicesOf(alice)).toEqual([a1, a2]);
    router.removeLink(a1);
    expect(router.isOnline(alice)).toBe(true);
    router.removeLink(a2);
    expect(router.isOnline(alice)).toBe(false);
    expect(router.devicesOf(alice)).toEqual([]);
    expect(router.onlineUserCount).toBe(0);
  });

  it('onDeviceGone() fires once per removed link, not for unknown links, and unsubscribes', () => {
    const router = new InMemoryRouter();
    const gone = vi.fn();
    const unsubscribe = router.onDeviceGone(gone);
    const a1 = link('alice', 'a1');
    router.addLink(a1);
    expect(router.removeLink(a1)).toBe(true);
    expect(router.removeLink(a1)).toBe(false);
    expect(gone).toHaveBeenCalledTimes(1);
    expect(gone).toHaveBeenCalledWith(a1);
    unsubscribe();
    router.addLink(a1);
    router.removeLink(a1);
    expect(gone).toHaveBeenCalledTimes(1);
  });

  it('a throwing listener or device does not stop the others', () => {
    const router = new InMemoryRouter();
    const after = vi.fn();
    router.onDeviceGone(() => {
      throw new Error('bad listener');
    });
    router.onDeviceGone(after);
    const broken: DeviceLink = { userId: alice, deviceId: 'x' as DeviceId, send: () => { throw new Error('socket gone'); } };
    const a2 = link('alice', 'a2');
    router.addLink(broken);
    router.addLink(a2);
    expect(router.sendToUser(alice, note)).toBe(1);
    expect(a2.inbox).toHaveLength(1);
    router.removeLink(broken);
    expect(after).toHaveBeenCalledWith(broken);
  });
});
