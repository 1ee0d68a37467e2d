/**
 * End to end: a Chromium page in a room starved of CPU for 20 s (its renderer stopped
 * with SIGSTOP, as an overloaded machine does to it) gets its media back afterwards,
 * both ways, on at most two peer connections. The starved page runs in a Chromium of
 * its own, so that only its renderers are stopped. And a page whose receiving connection
 * fails gets a new one (a new server transport) while the app says it restores the media.
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

/**
 * Run in the page before the app: peer connections a test can cut. `__cutReceiving()`
 * closes the connected receiving (answering) connection, which then says 'failed', as
 * when consent fails; `__recoveringSeen` turns true once the app showed that it restores
 * the media.
 */
function breakablePeerConnections(): void {
  const w = window as unknown as { RTCPeerConnection: typeof RTCPeerConnection; __pcs: RTCPeerConnection[]; __cutReceiving: () => boolean; __recoveringSeen: boolean };
  const Native = w.RTCPeerConnection;
  const cut = new WeakSet<RTCPeerConnection>();
  w.__pcs = [];
  w.__recoveringSeen = false;
  w.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      w.__pcs.push(this);
    }

    override get connectionState(): RTCPeerConnectionState {
      return cut.has(this) ? 'failed' : super.connectionState;
    }
  };
  w.__cutReceiving = () => {
    const pc = w.__pcs.filter((p) => !cut.has(p) && p.connectionState === 'connected' && p.localDescription?.type === 'answer').at(-1);
    if (!pc) return false;
    cut.add(pc);
    pc.close();
    pc.onconnectionstatechange?.call(pc, new Event('connectionstatechange'));
    return true;
  };
  new MutationObserver(() => {
    if (document.querySelector('[data-testid="media-recovering-banner"]')) w.__recoveringSeen = true;
  }).observe(document, { childList: true, subtree: true });
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

  it('a page whose receiving connection fails gets a new one on a new server transport, shows that it restores the media meanwhile, and decodes the others again', async () => {
    const ann = await suite.user('ann');
    const bo = await suite.user('bo');
    await bo.context.addInitScript(breakablePeerConnections);
    await bo.page.reload();
    const room = `cut-${process.pid}`;
    for (const u of [ann, bo]) {
      await u.page.goto(`${suite.server.url}#/room/${room}`);
      await u.page.getByTestId('call-screen').waitFor({ timeout: 10_000 });
    }
    await Promise.all([waitForMediaFrom(ann, [bo], { frames: 20, audioPackets: 30 }), waitForMediaFrom(bo, [ann], { frames: 20, audioPackets: 30 })]);
    const made = await bo.page.evaluate(() => (window as unknown as { __pcs: unknown[] }).__pcs.length);

    expect(await bo.page.evaluate(() => (window as unknown as { __cutReceiving: () => boolean }).__cutReceiving())).toBe(true);

    await expect.poll(() => bo.page.evaluate(() => (window as unknown as { __recoveringSeen: boolean }).__recoveringSeen), { timeout: 15_000 }).toBe(true);
    await videoFlows(bo, ann);
    expect(await bo.page.evaluate(() => (window as unknown as { __pcs: unknown[] }).__pcs.length)).toBe(made + 1);
    await expect.poll(async () => (await peerConnections(bo)).states, { timeout: 30_000 }).toEqual(['connected', 'connected']);
    await bo.page.getByTestId('media-recovering-banner').waitFor({ state: 'detached', timeout: 15_000 });
    await waitForMoreMediaFrom(ann, [bo]);
  }, 90_000);
});
