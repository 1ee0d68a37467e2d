/**
 * End to end, in the web app in headless Chromium: recording a 1:1 call through the media
 * server (the Record button, the red REC dot on both sides, the Recordings page and its
 * download link, the file checked with ffprobe), and a group call with server-mixed audio
 * ("mixed audio" in the start dialog: media 'hybrid').
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openingPicture } from '@roundtable/media/testing';
import type { RunningServer } from '../../packages/server/src/index.js';
import { skipBrowserTests } from './browser.js';
import { openChromium } from './sharedChromium.js';
import { addContactAndOpenChat, appState, callState, MEDIA_TIMEOUT_MS, openConversation, screenshot, signUp, startAppServer, waitForMediaFrom, waitForPhase, type AppUser } from './webApp.js';

const run = promisify(execFile);

interface Probe {
  format: { format_name: string; duration?: string };
  streams: Array<{ codec_type: string; codec_name: string }>;
}

async function ffprobe(file: string): Promise<Probe> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=format_name,duration:stream=codec_type,codec_name', '-of', 'json', file]);
  return JSON.parse(stdout) as Probe;
}

describe.skipIf(skipBrowserTests('web app recording and hybrid calls'))('web app recording and hybrid calls in Chromium', () => {
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  let dir: string;
  const users: AppUser[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rt-web-recording-'));
    server = await startAppServer({ portRange: [51600, 51999], recordingsDir: path.join(dir, 'recordings') });
    browser = await openChromium();
  });

  afterEach(async () => {
    await Promise.all(users.splice(0).map((u) => u.context.close()));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function user(prefix: string): Promise<AppUser> {
    const u = await signUp(browser!, server!, prefix);
    users.push(u);
    return u;
  }

  it('a 1:1 SFU call is recorded: both see REC, both list the recording, and its download is a WebM with a duration', async () => {
    const [alice, bob] = await Promise.all([user('alice'), user('bob')]);
    await addContactAndOpenChat(alice, bob);
    await openConversation(bob, alice.displayName);
    await alice.page.getByTestId('call-video').click();
    await bob.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
    await bob.page.getByTestId('accept-call').click();
    await Promise.all([waitForPhase(alice, 'CONNECTED'), waitForPhase(bob, 'CONNECTED')]);
    await Promise.all([waitForMediaFrom(alice, [bob], { frames: 10, audioPackets: 20 }), waitForMediaFrom(bob, [alice], { frames: 10, audioPackets: 20 })]);
    expect(await alice.page.getByTestId('rec-indicator').count()).toBe(0);

    await alice.page.getByTestId('toggle-record').click();

    for (const u of [alice, bob]) await u.page.getByTestId('rec-indicator').waitFor({ timeout: 15_000 });
    expect(await bob.page.locator('[data-testid="toggle-record"][data-on="true"]').count()).toBe(1);
    expect((await callState(bob.page)) as unknown as { recording: boolean }).toMatchObject({ recording: true });
    await screenshot(bob.page, 'call-recording');
    // A few seconds of media into the file.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    await alice.page.getByTestId('toggle-record').click();
    for (const u of [alice, bob]) await u.page.getByTestId('rec-indicator').waitFor({ state: 'detached', timeout: 30_000 });
    await alice.page.getByTestId('hang-up').click();
    await bob.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 });

    const sizes: number[] = [];
    let href = '';
    for (const u of [alice, bob]) {
      await u.page.getByTestId('nav-recordings').click();
      const item = u.page.locator('[data-testid="recording-item"][data-status="complete"]');
      await item.waitFor({ timeout: 15_000 });
      expect(await u.page.getByTestId('recording-item').count()).toBe(1);
      href = (await item.getByTestId('recording-download').getAttribute('href')) ?? '';
      expect(href).toMatch(/\/recordings\/[\w-]+\?expires=\d+&sig=/);
      // The page itself can fetch its link (same origin, no credentials needed).
      sizes.push(await u.page.evaluate(async (url) => (await (await fetch(url)).arrayBuffer()).byteLength, href));
    }
    await screenshot(bob.page, 'recordings');

    const response = await fetch(href);
    expect([response.status, response.headers.get('content-type')]).toEqual([200, 'video/webm']);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(sizes).toEqual([bytes.length, bytes.length]);
    const file = path.join(dir, 'download.webm');
    writeFileSync(file, bytes);
    const probe = await ffprobe(file);
    expect(probe.format.format_name).toContain('webm');
    expect(Number(probe.format.duration)).toBeGreaterThan(0);
    expect(probe.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:opus', 'video:vp8']);

    // Only Alice, who started it, may delete it: two clicks, and it is gone for both.
    expect(await bob.page.getByTestId('recording-delete').count()).toBe(0);
    await alice.page.getByTestId('recording-delete').click();
    await alice.page.getByTestId('recording-delete-confirm').click();
    await alice.page.getByTestId('no-recordings').waitFor({ timeout: 10_000 });
    await bob.page.getByTestId('recordings-refresh').click();
    await bob.page.getByTestId('no-recordings').waitFor({ timeout: 10_000 });
    expect((await fetch(href)).status).toBe(404);
    // Sign-ups, the call, the recording, its listing and download: several steps, each with its own limit.
  }, 120_000);

  it('a room being recorded shows REC to who joins late; the Recordings page plays the file (which opens with picture) at its own length, and deletes it', async () => {
    const [ann, ben] = await Promise.all([user('ann'), user('ben')]);
    const room = `rec${Date.now() % 100000}`;
    await ann.page.evaluate((name) => (location.hash = `#/room/${name}`), room);
    await waitForPhase(ann, 'CONNECTED');
    await ann.page.getByTestId('toggle-record').click();
    await ann.page.getByTestId('rec-indicator').waitFor({ timeout: 30_000 });

    // Ben comes in while it records: he sees REC without anyone pressing anything.
    await ben.page.evaluate((name) => (location.hash = `#/room/${name}`), room);
    await waitForPhase(ben, 'CONNECTED');
    await ben.page.getByTestId('rec-indicator').waitFor({ timeout: 10_000 });
    expect((await callState(ben.page)) as unknown as { recording: boolean }).toMatchObject({ recording: true });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await ben.page.getByTestId('toggle-record').click();
    for (const u of [ann, ben]) await u.page.getByTestId('rec-indicator').waitFor({ state: 'detached', timeout: 30_000 });
    for (const u of [ann, ben]) await u.page.getByTestId('hang-up').click();

    await ann.page.getByTestId('nav-recordings').click();
    const item = ann.page.locator('[data-testid="recording-item"][data-status="complete"]');
    await item.waitFor({ timeout: 15_000 });
    // The listed length is the file's own (the server probed it).
    const listed = Number(await item.getAttribute('data-duration'));
    const href = (await item.getByTestId('recording-download').getAttribute('href')) ?? '';
    const file = path.join(dir, 'room.webm');
    writeFileSync(file, Buffer.from(await (await fetch(href)).arrayBuffer()));
    const probe = await ffprobe(file);
    expect(listed).toBeCloseTo(Number(probe.format.duration), 2);
    expect(listed).toBeGreaterThan(1);
    // It opens with picture: no black first second.
    const opening = await openingPicture(file, 1);
    expect(opening.frames).toBeGreaterThan(3);
    expect(opening.black).toEqual([]);

    // The player plays it in the page.
    await item.getByTestId('recording-play').click();
    await ann.page.getByTestId('recording-player').waitFor({ timeout: 10_000 });
    await ann.page.waitForFunction(
      () => {
        const video = document.querySelector<HTMLVideoElement>('[data-testid="recording-player"]');
        if (video && video.paused && video.readyState >= 2) void video.play().catch(() => undefined);
        return video !== null && video.currentTime > 0.3 && video.videoWidth > 0;
      },
      undefined,
      { timeout: 30_000 },
    );
    await screenshot(ann.page, 'recording-player');

    await item.getByTestId('recording-delete').click();
    await item.getByTestId('recording-delete-confirm').click();
    await ann.page.getByTestId('no-recordings').waitFor({ timeout: 10_000 });
    expect((await fetch(href)).status).toBe(404);
    // Two people, a room recording and a player: more than the usual minute on a busy machine.
  }, 120_000);

  it('a group call with "mixed audio": one tile per participant, everyone decodes the others’ video and plays one mixed audio track; the active speaker comes from the levels the media server reads in each participant\'s own audio', async () => {
    const [ann, ben, cat] = await Promise.all([user('ann'), user('ben'), user('cat')]);
    const everyone = [ann, ben, cat];
    const others = (me: AppUser): AppUser[] => everyone.filter((u) => u !== me);
    for (const u of others(ann)) await addContactAndOpenChat(ann, u);
    await ann.page.getByTestId('nav-chats').click();
    await ann.page.getByTestId('new-group').click();
    await ann.page.getByTestId('group-name').fill('Mix');
    for (const u of others(ann)) await ann.page.locator(`[data-testid="member-option"][data-username="${u.username}"]`).check();
    await ann.page.getByTestId('picker-confirm').click();
    await expect.poll(() => ann.page.getByTestId('chat-title').textContent(), { timeout: 10_000 }).toBe('Mix');
    for (const u of others(ann)) await openConversation(u, 'Mix');

    await ann.page.getByTestId('call-video').click();
    await ann.page.getByTestId('mixed-audio-option').check();
    await ann.page.getByTestId('picker-confirm').click();
    await waitForPhase(ann, 'OUTGOING', 10_000);
    await Promise.all(
      others(ann).map(async (u) => {
        await u.page.getByTestId('incoming-call').waitFor({ timeout: 10_000 });
        await u.page.getByTestId('accept-call').click();
      }),
    );
    await Promise.all(everyone.map((u) => waitForPhase(u, 'CONNECTED')));

    // Video per participant; audio only through the mix (nothing per participant).
    const media = await Promise.all(everyone.map((u) => waitForMediaFrom(u, others(u), { frames: 20, audioPackets: 0 })));
    await Promise.all(everyone.map((u) => waitForMixedAudio(u, 50)));
    for (const [i, u] of everyone.entries()) {
      const call = (await callState(u.page)) as unknown as { mediaMode: string; mixedAudio: boolean; participants: unknown[] };
      expect([call.mediaMode, call.mixedAudio, call.participants.length]).toEqual(['hybrid', true, 2]);
      expect(await u.page.getByTestId('tile').count()).toBe(2);
      expect(await u.page.getByTestId('mixed-audio').count()).toBe(1);
      for (const o of others(u)) expect(media[i]![o.username]!.audioPacketsReceived).toBe(0);
    }
    await screenshot(cat.page, 'call-hybrid');

    // The active speaker: nobody's level can be read from a mix on the page; the media server
    // reads each participant's own audio's level (docs/adaptation.md). All fake microphones
    // beep: someone speaks on ann's screen.
    const speaker = (): Promise<string | null> => ann.page.getByTestId('call-screen').getAttribute('data-active-speaker');
    await expect.poll(speaker, { timeout: 15_000 }).toMatch(new RegExp(`^(${ben.id}|${cat.id})$`));
    // Ben and cat mute: nobody speaks. Cat unmutes: she is the active speaker, with the ring on her tile.
    await ben.page.getByTestId('toggle-mute').click();
    await cat.page.getByTestId('toggle-mute').click();
    await expect.poll(speaker, { timeout: 10_000 }).toBe('');
    await cat.page.getByTestId('toggle-mute').click();
    await expect.poll(speaker, { timeout: 15_000 }).toBe(cat.id);
    await ann.page.locator(`[data-testid="tile"][data-user-id="${cat.id}"][data-speaking="true"]`).waitFor({ timeout: 5000 });
    await ann.page.getByTestId('hang-up').click();
    await Promise.all(others(ann).map((u) => u.page.getByTestId('call-screen').waitFor({ state: 'detached', timeout: 10_000 })));
    // One scenario of several steps with 3 browser contexts (sign-ups, contacts, the group, the call): longer than one step's 60 s.
  }, 150_000);
});

/** Waits until `user` has received `packets` packets of the hybrid call's mixed audio (browser getStats()). */
async function waitForMixedAudio(user: AppUser, packets: number): Promise<void> {
  const deadline = Date.now() + MEDIA_TIMEOUT_MS;
  let last = 0;
  while (Date.now() < deadline) {
    const stats = await user.page.evaluate(() => window.__roundtable?.stats() ?? Promise.resolve(null));
    last = stats?.participants['mixedAudio']?.audioPacketsReceived ?? 0;
    if (last >= packets) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${user.username} received ${last} mixed audio packets, not ${packets}, within ${MEDIA_TIMEOUT_MS / 1000} s; app: ${JSON.stringify(await appState(user.page))}\npage log:\n${user.logs.join('\n')}`);
}
