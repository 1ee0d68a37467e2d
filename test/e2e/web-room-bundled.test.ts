/**
 * End to end: an open room of three Chromium pages on the bundled words. Each page has
 * at most two peer connections (one sending, one receiving) whatever the room's size;
 * everyone decodes everyone else; when one leaves, the server's offer takes its tracks
 * off the others' receiving connections and their media goes on.
 */
import { describe, expect, it } from 'vitest';
import { skipBrowserTests } from './browser.js';
import { waitForMediaFrom, waitForMoreMediaFrom, signUp, type AppUser, webAppSuite } from './webApp.js';

describe.skipIf(skipBrowserTests('bundled room'))('a room on two connections per page, in Chromium', () => {
  const suite = webAppSuite({ portRange: [65140, 65199] });
  const users = suite.users;

  async function peerConnections(user: AppUser): Promise<{ count: number; states: string[] }> {
    const stats = await user.page.evaluate(() => window.__roundtable?.stats() ?? Promise.resolve(null));
    return { count: stats?.peerConnections ?? 0, states: stats?.connectionStates ?? [] };
  }

  it('three pages: two peer connections each, everyone decodes everyone, one leaves and the others go on', async () => {
    const [kim, lee, max] = await Promise.all(['kim', 'lee', 'max'].map((name) => signUp(suite.browser, suite.server, name)));
    users.push(kim!, lee!, max!);
    const everyone = [kim!, lee!, max!];
    const others = (me: AppUser): AppUser[] => everyone.filter((u) => u !== me);
    const room = `bundled-${process.pid}`;

    for (const u of everyone) {
      await u.page.goto(`${suite.server.url}#/room/${room}`);
      await u.page.getByTestId('call-screen').waitFor({ timeout: 10_000 });
    }
    await Promise.all(everyone.map((u) => waitForMediaFrom(u, others(u), { frames: 20, audioPackets: 30 })));
    for (const u of everyone) {
      await u.page.locator('[data-testid="tile"][data-has-video="true"]').nth(1).waitFor({ timeout: 15_000 });
      const pcs = await peerConnections(u);
      // One sending and one receiving connection, for two others as for eight.
      expect(pcs.count, `${u.username}'s peer connections: ${JSON.stringify(pcs.states)}`).toBe(2);
      expect(pcs.states.every((s) => s === 'connected')).toBe(true);
    }

    // Max leaves: his tile goes, the two others keep decoding each other on the same two connections.
    await max!.page.getByTestId('hang-up').click();
    await max!.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });
    for (const u of [kim!, lee!]) await u.page.locator(`[data-testid="tile"][data-user-id="${max!.id}"]`).waitFor({ state: 'detached', timeout: 15_000 });
    await Promise.all([waitForMoreMediaFrom(kim!, [lee!]), waitForMoreMediaFrom(lee!, [kim!])]);
    for (const u of [kim!, lee!]) expect((await peerConnections(u)).count).toBe(2);

    // Max comes back: his new tracks reach the others' existing receiving connections.
    await max!.page.getByTestId('room-join').click();
    await max!.page.getByTestId('call-screen').waitFor({ timeout: 10_000 });
    await Promise.all(everyone.map((u) => waitForMediaFrom(u, others(u), { frames: 10, audioPackets: 10 })));
    await Promise.all([waitForMoreMediaFrom(kim!, [max!]), waitForMoreMediaFrom(lee!, [max!])]);
    for (const u of everyone) expect((await peerConnections(u)).count).toBe(2);
    for (const u of everyone) await u.page.getByTestId('hang-up').click();
  }, 120_000);
});
