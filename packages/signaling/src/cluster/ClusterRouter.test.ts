import type { DeviceId, ServerNotification, UserId } from '@roundtable/protocol';
import { describe, expect, it } from 'vitest';
import type { DeviceLink } from '../net/Router.js';
import { FakeLink } from '../testing/fakes.js';
import { ClusterRouter, type DeviceEntry } from './ClusterRouter.js';

function setup() {
  const wire = {
    registered: [] as DeviceEntry[],
    unregistered: [] as DeviceEntry[],
    delivered: [] as Array<{ node: string; key: string; notification: ServerNotification }>,
  };
  const router = new ClusterRouter('me', {
    registered: (e) => wire.registered.push(e),
    unregistered: (e) => wire.unregistered.push(e),
    deliver: (node, key, notification) => wire.delivered.push({ node, key, notification }),
  });
  const events: string[] = [];
  router.onDeviceAdded((l) => events.push(`+${l.userId}/${l.deviceId}`));
  router.onDeviceGone((l) => events.push(`-${l.userId}/${l.deviceId}`));
  return { router, wire, events };
}

const entry = (node: string, key: string, user: string, device = `${user}-d`): DeviceEntry => ({ node, key, userId: user as UserId, deviceId: device as DeviceId });
const hello: ServerNotification = { type: 'presence', userId: 'x' as UserId, online: true };

describe('ClusterRouter', () => {
  it('registers this node\'s devices with the registry under keys of their own, and withdraws them', () => {
    const { router, wire, events } = setup();
    const link = new FakeLink('alice' as UserId, 'a1' as DeviceId);
    router.addLink(link);
    expect(wire.registered).toEqual([{ node: 'me', key: router.keyOf(link), userId: 'alice', deviceId: 'a1' }]);
    expect(router.devicesOf('alice' as UserId)).toEqual([link]);
    expect(router.removeLink(link)).toBe(true);
    expect(router.removeLink(link)).toBe(false);
    expect(wire.unregistered).toHaveLength(1);
    expect(events).toEqual(['+alice/a1', '-alice/a1']);
    expect(router.isOnline('alice' as UserId)).toBe(false);
  });

  it('mirrors another node\'s device as one link object, whose notifications go to that node', () => {
    const { router, wire } = setup();
    const first = router.remoteAdded(entry('n2', 'n2/1', 'bob'));
    expect(router.remoteAdded(entry('n2', 'n2/1', 'bob'))).toBe(first);
    const local = new FakeLink('bob' as UserId, 'b2' as DeviceId);
    router.addLink(local);
    expect(router.sendToUser('bob' as UserId, hello, local)).toBe(1);
    expect(wire.delivered).toEqual([{ node: 'n2', key: 'n2/1', notification: hello }]);
    expect(router.deliverLocal(router.keyOf(local)!, hello)).toBe(true);
    expect(local.received).toEqual([hello]);
    expect(router.deliverLocal('me/999', hello)).toBe(false);
  });

  it('a reconcile begun before a removal does not bring the device back, nor drop one added after it began', () => {
    const { router, events } = setup();
    router.remoteAdded(entry('n2', 'n2/1', 'bob'));
    const mark = router.mark();
    router.remoteRemoved('n2/1');
    router.remoteAdded(entry('n2', 'n2/2', 'carol'));
    // The snapshot was read before both events.
    router.reconcile([entry('n2', 'n2/1', 'bob')], mark, new Set());
    expect(router.isOnline('bob' as UserId)).toBe(false);
    expect(router.isOnline('carol' as UserId)).toBe(true);
    expect(events).toEqual(['+bob/bob-d', '-bob/bob-d', '+carol/carol-d']);
  });

  it('a reconcile adds what it finds and drops what is gone, except the devices of nodes kept (missing for a moment)', () => {
    const { router, events } = setup();
    router.remoteAdded(entry('n2', 'n2/1', 'bob'));
    router.remoteAdded(entry('n3', 'n3/1', 'carol'));
    router.remoteAdded(entry('n4', 'n4/1', 'dave'));
    router.reconcile([entry('n2', 'n2/1', 'bob'), entry('n2', 'n2/5', 'erin')], router.mark(), new Set(['n3']));
    const online = (u: string): boolean => router.isOnline(u as UserId);
    expect(['bob', 'carol', 'dave', 'erin'].map(online)).toEqual([true, true, false, true]);
    expect(events.slice(3)).toEqual(['+erin/erin-d', '-dave/dave-d']);
    expect(router.remoteNodes()).toEqual(new Set(['n2', 'n3']));
    expect(router.onlineUserCount).toBe(3);
  });

  it('a device listener that throws does not stop the others', () => {
    const { router, events } = setup();
    router.onDeviceAdded(() => {
      throw new Error('listener bug');
    });
    const seen: DeviceLink[] = [];
    router.onDeviceAdded((l) => seen.push(l));
    router.remoteAdded(entry('n2', 'n2/1', 'bob'));
    expect(seen).toHaveLength(1);
    expect(events).toEqual(['+bob/bob-d']);
  });
  it('linkOf() gives the link of a saved device while it is connected, and a link that reaches nobody (not counted online) once it is gone', () => {
    const { router, wire, events } = setup();
    const local = new FakeLink('alice' as UserId, 'a1' as DeviceId);
    router.addLink(local);
    const remote = router.remoteAdded(entry('two', 'two/1', 'bob'));
    expect(router.linkOf({ node: 'me', key: router.keyOf(local)!, userId: 'alice' as UserId, deviceId: 'a1' as DeviceId })).toEqual({ link: local, online: true });
    expect(router.linkOf(entry('two', 'two/1', 'bob'))).toEqual({ link: remote, online: true });

    const gone = router.linkOf(entry('three', 'three/7', 'carol'));
    expect(gone.online).toBe(false);
    gone.link.send(hello);
    expect(wire.delivered).toEqual([{ node: 'three', key: 'three/7', notification: hello }]);
    expect(router.isOnline('carol' as UserId)).toBe(false);
    expect(events).toEqual(['+alice/a1', '+bob/bob-d']);
  });
});
