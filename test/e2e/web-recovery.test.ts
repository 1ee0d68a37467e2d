/**
 * End to end: a Chromium page in a room starved of CPU for 20 s (its renderer stopped
 * with SIGSTOP, as an overloaded machine does to it) gets its media back afterwards,
 * both ways, on at most two peer connections. The starved page runs in a Chromium of
 * its own, so that only its renderers are stopped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { launchChromium, skipBrowserTests } from './browser.js';
import { signUp, videoFlows, waitForMediaFrom, waitForMoreMediaFrom, webAppSuite, type AppUser } from './webApp.js';

/** Every process: its parent and its command line (from /proc). */
function processes(): Array<{ pid: number; ppid: number; cmdline: string }> {
  const out: Array<{ pid: number; ppid: number; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The second field (comm) may hold spaces: the parent is the 2nd field after its ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(entry), ppid, cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The renderer processes of the Chromium whose browser process has `marker` on its command line. */
function renderersOf(marker: string): number[] {
  const all = processes();
  const root = all.find((p) => p.cmdline.includes(marker) && !p.cmdline.includes('--type='));
  if (!root) throw new Error(`no Chromium with ${marker} on its command line`);
  const tree = new Set([root.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => tree.has(p.pid) && p.cmdline.includes('--type=renderer')).map((p) => p.pid);
}

async function peerConnections(user: AppUser): Promise<{ count: number; states: string[] }> {
  const stats = await user.page.evaluate(() => window.__roundtable?.stats() ?? Promise.resolve(null));
  return { count: stats?.peerConnections ?? 0, states: stats?.connectionStates ?? [] };
}

describe.skipIf(skipBrowserTests('recovery'))('a room page starved of CPU, in Chromium', () => {
  const suite = webAppSuite({ portRange: [63160, 63199] });

  it('a page whose renderer is stopped for 20 s gets its media back both ways afterwards, on two connections', async () => {
    const marker = `--roundtable-starved-${process.pid}`;
    const starvedBrowser = await launchChromium([marker]);
    try {
      const ann = await suite.user('ann');
      const bo = await signUp(starvedBrowser, suite.server, 'bo');
      const room = `starved-${process.pid}`;
      for (const u of [ann, bo]) {
        await u.page.goto(`${suite.server.url}#/room/${room}`);
        await u.page.getByTestId('call-screen').waitFor({ timeout: 10_000 });
      }
      await Promise.all([waitForMediaFrom(ann, [bo], { frames: 20, audioPackets: 30 }), waitForMediaFrom(bo, [ann], { frames: 20, audioPackets: 30 })]);

      const renderers = renderersOf(marker);
      expect(renderers.length).toBeGreaterThan(0);
      for (const pid of renderers) process.kill(pid, 'SIGSTOP');
      try {
        await new Promise((resolve) => setTimeout(resolve, 20_000));
      } finally {
        for (const pid of renderers) process.kill(pid, 'SIGCONT');
      }

      // Both ways again: bo decodes ann, ann decodes bo (new frames, whatever link carries them).
      await Promise.all([videoFlows(bo, ann), videoFlows(ann, bo)]);
      await Promise.all([waitForMoreMediaFrom(bo, [ann]), waitForMoreMediaFrom(ann, [bo])]);
      const pcs = await peerConnections(bo);
      expect(pcs.count, JSON.stringify(pcs.states)).toBeLessThanOrEqual(2);
      await expect.poll(async () => (await peerConnections(bo)).states.every((s) => s === 'connected'), { timeout: 30_000 }).toBe(true);
      await bo.page.getByTestId('media-failed-banner').waitFor({ state: 'detached', timeout: 1000 });
      await bo.context.close();
    } finally {
      await starvedBrowser.close();
    }
  }, 150_000);
});
