import { TypedEmitter, type MediaSessionEvents, type SessionStats } from '@roundtable/client';
import type { UserId } from '@roundtable/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallHealth, NOTICE_MS } from './CallHealth.js';
import type { SessionLike } from './CallSession.js';

/** The session events CallHealth listens to, fired by the test. */
class FakeSession extends TypedEmitter<MediaSessionEvents> {
  fireEvent<K extends keyof MediaSessionEvents>(event: K, payload: MediaSessionEvents[K]): void {
    this.emit(event, payload);
  }
}

const bob = 'bob' as UserId;

function stats(quality: 'good' | 'poor', lossRate: number, rttMs: number): SessionStats {
  const link = { participant: bob, bitrateIn: 0, bitrateOut: 0, packetsLost: 0, lossRate, rttMs, quality };
  return { at: 0, participants: [link], uplink: { ...link, participant: 'me' as UserId, lossRate: 0, rttMs: 20 }, quality };
}

describe('CallHealth', () => {
  afterEach(() => vi.useRealTimers());

  it('follows the own links reconnecting and the others reconnecting; a dropped participant leaves a notice that goes by itself', () => {
    vi.useFakeTimers();
    const session = new FakeSession();
    const health = new CallHealth(session as unknown as SessionLike);
    session.fireEvent('connection', { reconnecting: true });
    expect(health.state.mediaReconnecting).toBe(true);
    session.fireEvent('connection', { reconnecting: false });
    expect(health.state.mediaReconnecting).toBe(false);

    session.fireEvent('participantConnection', { participant: bob, reconnecting: true });
    expect(health.state.peersReconnecting).toEqual([bob]);
    session.fireEvent('participantLeft', { participant: bob, dropped: true });
    expect(health.state.peersReconnecting).toEqual([]);
    expect(health.state.notices).toEqual([{ id: 1, userId: bob, dropped: true }]);
    vi.advanceTimersByTime(NOTICE_MS);
    expect(health.state.notices).toEqual([]);
    health.dispose();
  });

  it('warns of a poor network with the worst loss and round trip, and stops once the quality is back', () => {
    const session = new FakeSession();
    const health = new CallHealth(session as unknown as SessionLike);
    session.fireEvent('quality', { level: 'poor', previous: 'good' });
    session.fireEvent('stats', stats('poor', 0.123, 480.4));
    expect(health.state.poor).toEqual({ lossPercent: 12, rttMs: 480 });
    session.fireEvent('quality', { level: 'good', previous: 'poor' });
    session.fireEvent('stats', stats('good', 0, 30));
    expect(health.state.poor).toBeNull();
    health.dispose();
    session.fireEvent('connection', { reconnecting: true });
    expect(health.state.mediaReconnecting).toBe(false);
  });

  it('shows a media link being brought back, then that it gave up (retry() asks the SDK again), and nothing once it recovered', () => {
    const session = new FakeSession();
    let retries = 0;
    const health = new CallHealth(Object.assign(session, { retryMedia: () => retries++ }) as unknown as SessionLike);
    session.fireEvent('recovery', { link: 'receiving', state: 'retrying', attempt: 2, maxAttempts: 5, delayMs: 1000 });
    expect(health.state.mediaRecovery).toEqual({ failed: false, attempt: 2, maxAttempts: 5 });
    session.fireEvent('recovery', { link: 'sending', state: 'retrying', attempt: 1, maxAttempts: 5, delayMs: 0 });
    session.fireEvent('recovery', { link: 'receiving', state: 'failed', attempt: 5, maxAttempts: 5, delayMs: 0 });
    expect(health.state.mediaRecovery).toEqual({ failed: true, attempt: 5, maxAttempts: 5 });
    health.retry();
    expect(retries).toBe(1);
    session.fireEvent('recovery', { link: 'receiving', state: 'recovered', attempt: 1, maxAttempts: 5, delayMs: 0 });
    expect(health.state.mediaRecovery).toEqual({ failed: false, attempt: 1, maxAttempts: 5 });
    session.fireEvent('recovery', { link: 'sending', state: 'recovered', attempt: 1, maxAttempts: 5, delayMs: 0 });
    expect(health.state.mediaRecovery).toBeNull();
    health.dispose();
  });
});
