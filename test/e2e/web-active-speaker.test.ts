/**
 * End to end: the media server's active speaker in a room of three Chromium pages on the
 * bundled words. Chromium puts its audio level in every audio packet (RFC 6464); the
 * server reads it, decides the dominant speaker and tells everyone, and the pages
 * highlight who it names. The fake microphones beep: muting makes a page silent.
 */
import { describe, expect, it } from 'vitest';
import { skipBrowserTests } from './browser.js';
import { appState, signUp, waitForMediaFrom, webAppSuite, type AppUser } from './webApp.js';

interface SpeakerView {
  activeSpeaker: string | null;
  levelsFrom: string;
  serverSpeaker: string | null;
}

async function speakerView(user: AppUser): Promise<SpeakerView | null> {
  return ((await appState(user.page))['call'] as SpeakerView | null | undefined) ?? null;
}

describe.skipIf(skipBrowserTests('active speaker'))('the server names who speaks, in Chromium', () => {
  const suite = webAppSuite({ portRange: [63300, 63359] });

  it('in a room of three where only one has signal, the other two are told who speaks, from the levels the server reads', async () => {
    const [ida, jon, kai] = await Promise.all(['ida', 'jon', 'kai'].map((name) => signUp(suite.browser, suite.server, name)));
    suite.users.push(ida!, jon!, kai!);
    const everyone = [ida!, jon!, kai!];
    const others = (me: AppUser): AppUser[] => everyone.filter((u) => u !== me);
    const room = `speaker-${process.pid}`;
    for (const u of everyone) {
      await u.page.goto(`${suite.server.url}#/room/${room}`);
      await u.page
        .getByTestId('call-screen')
        .waitFor({ timeout: 30_000 })
        .catch(async (error: unknown) => {
          throw new Error(`${u.username}'s room screen did not open: ${String(error)}\napp: ${JSON.stringify(await appState(u.page))}\npage log:\n${u.logs.join('\n')}`);
        });
    }
    await Promise.all(everyone.map((u) => waitForMediaFrom(u, others(u), { frames: 5, audioPackets: 30 })));
    // Everyone beeps: the server names someone, and every page takes its levels from the server.
    for (const u of everyone) await expect.poll(async () => (await speakerView(u))?.levelsFrom, { timeout: 15_000 }).toBe('server');

    // All three mute: nobody speaks, on every page.
    for (const u of everyone) await u.page.getByTestId('toggle-mute').click();
    for (const u of everyone) {
      await expect.poll(async () => (await speakerView(u))?.serverSpeaker, { timeout: 15_000 }).toBeNull();
      await expect.poll(() => u.page.getByTestId('call-screen').getAttribute('data-active-speaker'), { timeout: 20_000 }).toBe('');
    }

    // Ida unmutes: she is the only one with signal. Jon and Kai are told. (How fast is logged,
    // not asserted: on a loaded machine the pages themselves lag; the server names her in its
    // first period that hears her, see room/TransportRoom.speaker.test.ts.)
    const start = Date.now();
    await ida!.page.getByTestId('toggle-mute').click();
    const toldAfter = await Promise.all(
      [jon!, kai!].map(async (u) => {
        await expect.poll(async () => (await speakerView(u))?.serverSpeaker, { timeout: 20_000, interval: 50 }).toBe(ida!.id);
        return Date.now() - start;
      }),
    );
    console.log(`active speaker: told after ${toldAfter.join(' ms, ')} ms (unmute click to the SDK's activeSpeaker on the two other pages)`);
    // Their screens highlight her tile.
    for (const u of [jon!, kai!]) {
      await expect.poll(() => u.page.getByTestId('call-screen').getAttribute('data-active-speaker'), { timeout: 10_000 }).toBe(ida!.id);
      await u.page.locator(`[data-testid="tile"][data-user-id="${ida!.id}"][data-speaking="true"]`).waitFor({ timeout: 10_000 });
    }
    for (const u of everyone) await u.page.getByTestId('hang-up').click();
  }, 90_000);
});
