import { describe, expect, it } from 'vitest';
import { StreamRewriter } from './StreamRewriter.js';

/** Stands in for a source stream: the rewriter only needs object identity. */
interface Source {
  name: string;
}

const VIDEO_CLOCK = 90000;
const a: Source = { name: 'a' };
const b: Source = { name: 'b' };

describe('StreamRewriter', () => {
  it('the first packet goes out at the initial sequence number and timestamp', () => {
    const rewriter = new StreamRewriter<Source>(1000, 50_000);

    const out = rewriter.rewrite(a, 7, 123_456, VIDEO_CLOCK, 0)!;

    expect(out).toEqual({ seq: 1000, ts: 50_000, switched: true });
    expect(rewriter.stream).toBe(a);
  });

  it('keeps the input spacing of sequence numbers and timestamps within one source', () => {
    const rewriter = new StreamRewriter<Source>(1000, 50_000);

    rewriter.rewrite(a, 7, 123_456, VIDEO_CLOCK, 0);
    const second = rewriter.rewrite(a, 8, 123_456, VIDEO_CLOCK, 1)!;
    const third = rewriter.rewrite(a, 9, 126_456, VIDEO_CLOCK, 33)!;

    expect(second).toEqual({ seq: 1001, ts: 50_000, switched: false });
    expect(third).toEqual({ seq: 1002, ts: 53_000, switched: false });
  });

  it('reserve() takes numbers for padding after the newest packet: the stream continues after them, a late packet from before is dropped, NACKs of them find nothing', () => {
    const rewriter = new StreamRewriter<Source>(65534, 50_000);
    expect(rewriter.reserve(3)).toBeUndefined();
    rewriter.rewrite(a, 7, 1000, VIDEO_CLOCK, 0);
    rewriter.rewrite(a, 9, 4000, VIDEO_CLOCK, 33);

    expect(rewriter.reserve(3)).toEqual({ seq: 1, ts: 53_000 });
    expect(rewriter.lookup(1)).toBeUndefined();
    // The late packet 8 would have gone out as 65535 + 3: one of the padding's numbers.
    expect(rewriter.rewrite(a, 8, 2500, VIDEO_CLOCK, 40)).toBeUndefined();
    expect(rewriter.rewrite(a, 10, 7000, VIDEO_CLOCK, 66)).toEqual({ seq: 4, ts: 56_000, switched: false });
    expect(rewriter.lookup(4)).toMatchObject({ stream: a, inSeq: 10 });
  });

  it('continues at the last sequence number + 1 when the source changes', () => {
    const rewriter = new StreamRewriter<Source>(1000, 50_000);
    for (let i = 0; i < 5; i++) rewriter.rewrite(a, 100 + i, 3000 * i, VIDEO_CLOCK, 33 * i);

    const out = rewriter.rewrite(b, 40_000, 999_999, VIDEO_CLOCK, 140)!;
    const next = rewriter.rewrite(b, 40_001, 999_999 + 3000, VIDEO_CLOCK, 173)!;

    expect(out.seq).toBe(1005);
    expect(out.switched).toBe(true);
    expect(next.seq).toBe(1006);
    expect(next.switched).toBe(false);
    expect(rewriter.stream).toBe(b);
  });

  it('advances the timestamp by the wall time elapsed since the last packet times the clock rate on a source change', () => {
    const rewriter = new StreamRewriter<Source>(1000, 50_000);
    rewriter.rewrite(a, 100, 0, VIDEO_CLOCK, 1000);
    rewriter.rewrite(a, 101, 3000, VIDEO_CLOCK, 1033);

    const out = rewriter.rewrite(b, 5, 777_777, VIDEO_CLOCK, 1033 + 250)!;
    const next = rewriter.rewrite(b, 6, 777_777 + 3000, VIDEO_CLOCK, 1033 + 283)!;

    expect(out.ts).toBe(53_000 + 22_500); // 250 ms at 90 kHz
    expect(next.ts).toBe(53_000 + 22_500 + 3000);
  });

  it('advances the timestamp by at least one tick when the source changes within the same instant', () => {
    const rewriter = new StreamRewriter<Source>(1000, 50_000);
    rewriter.rewrite(a, 100, 0, 48000, 10);

    const out = rewriter.rewrite(b, 5, 4242, 48000, 10)!;

    expect(out.ts).toBe(50_001);
  });

  it('wraps the sequence number from 65535 to 0', () => {
    const rewriter = new StreamRewriter<Source>(65534, 0);

    const seqs = [10, 11, 12, 13].map((inSeq) => rewriter.rewrite(a, inSeq, 0, VIDEO_CLOCK, 0)!.seq);

    expect(seqs).toEqual([65534, 65535, 0, 1]);
  });

  it('wraps the sequence number from 65535 to 0 across a source change', () => {
    const rewriter = new StreamRewriter<Source>(65535, 0);
    rewriter.rewrite(a, 10, 0, VIDEO_CLOCK, 0);

    const out = rewriter.rewrite(b, 30_000, 0, VIDEO_CLOCK, 20)!;

    expect(out.seq).toBe(0);
  });

  it('wraps the timestamp at 2^32', () => {
    const rewriter = new StreamRewriter<Source>(0, 2 ** 32 - 3000);

    rewriter.rewrite(a, 1, 90_000, VIDEO_CLOCK, 0);
    const next = rewriter.rewrite(a, 2, 93_000, VIDEO_CLOCK, 33)!;
    const after = rewriter.rewrite(a, 3, 96_000, VIDEO_CLOCK, 66)!;

    expect(next.ts).toBe(0);
    expect(after.ts).toBe(3000);
  });

  it('wraps the timestamp at 2^32 when a source change advances it', () => {
    const rewriter = new StreamRewriter<Source>(0, 2 ** 32 - 10);
    rewriter.rewrite(a, 1, 0, VIDEO_CLOCK, 0);

    const out = rewriter.rewrite(b, 1, 4_000_000_000, VIDEO_CLOCK, 20)!;

    expect(out.ts).toBe(1800 - 10); // 20 ms at 90 kHz, past 2^32
  });

  it('wraps input sequence numbers and timestamps without a jump in the output', () => {
    const rewriter = new StreamRewriter<Source>(500, 1000);

    const first = rewriter.rewrite(a, 65535, 2 ** 32 - 1500, VIDEO_CLOCK, 0)!;
    const second = rewriter.rewrite(a, 0, 1500, VIDEO_CLOCK, 33)!;

    expect(first).toMatchObject({ seq: 500, ts: 1000 });
    expect(second).toMatchObject({ seq: 501, ts: 4000 });
  });

  it('lookup() maps an output sequence number back to its stream, input sequence number and timestamp offset', () => {
    const rewriter = new StreamRewriter<Source>(1000, 50_000);
    rewriter.rewrite(a, 100, 7000, VIDEO_CLOCK, 0);
    const fromA = rewriter.rewrite(a, 101, 10_000, VIDEO_CLOCK, 33)!;
    const fromB = rewriter.rewrite(b, 9, 2 ** 32 - 5, VIDEO_CLOCK, 100)!;

    const infoA = rewriter.lookup(fromA.seq);
    const infoB = rewriter.lookup(fromB.seq);

    expect(infoA).toMatchObject({ stream: a, inSeq: 101 });
    expect((10_000 + infoA!.tsOffset) >>> 0).toBe(fromA.ts);
    expect(infoB).toMatchObject({ stream: b, inSeq: 9 });
    expect((2 ** 32 - 5 + infoB!.tsOffset) >>> 0).toBe(fromB.ts);
  });

  it('lookup() returns undefined for a sequence number never sent', () => {
    const rewriter = new StreamRewriter<Source>(1000, 0);
    rewriter.rewrite(a, 1, 0, VIDEO_CLOCK, 0);

    expect(rewriter.lookup(1001)).toBeUndefined();
    expect(rewriter.lookup(999)).toBeUndefined();
  });

  it('lookup() forgets a sequence number once 4096 newer packets have been sent', () => {
    const rewriter = new StreamRewriter<Source>(0, 0);
    for (let i = 0; i <= 4096; i++) rewriter.rewrite(a, i, 0, VIDEO_CLOCK, i);

    expect(rewriter.lookup(0)).toBeUndefined();
    expect(rewriter.lookup(1)).toMatchObject({ stream: a, inSeq: 1 });
    expect(rewriter.lookup(4096)).toMatchObject({ stream: a, inSeq: 4096 });
  });

  it('reordered packets keep their relative order', () => {
    const rewriter = new StreamRewriter<Source>(2000, 0);

    const seqs = [100, 102, 101, 104, 103].map((inSeq) => rewriter.rewrite(a, inSeq, 0, VIDEO_CLOCK, 0)!.seq);

    expect(seqs).toEqual([2000, 2002, 2001, 2004, 2003]);
    expect(rewriter.lastSequenceNumber).toBe(2004);
  });

  it('a late packet does not move the continuation point of the next source change', () => {
    const rewriter = new StreamRewriter<Source>(2000, 0);
    for (const inSeq of [100, 102, 101]) rewriter.rewrite(a, inSeq, 0, VIDEO_CLOCK, 0);

    const out = rewriter.rewrite(b, 7, 0, VIDEO_CLOCK, 20)!;

    expect(out.seq).toBe(2003);
  });

  it('a late packet of the new source from before the switch point does not take over a sequence number the previous source used', () => {
    // A sends 100..102 (out 2000..2002), then B takes over at its packet 50 (out 2003).
    // B's packet 49, reordered on the network, arrives after 50.
    const rewriter = new StreamRewriter<Source>(2000, 0);
    for (const inSeq of [100, 101, 102]) rewriter.rewrite(a, inSeq, 0, VIDEO_CLOCK, 0);
    rewriter.rewrite(b, 50, 0, VIDEO_CLOCK, 20);

    const late = rewriter.rewrite(b, 49, 0, VIDEO_CLOCK, 21);

    // Dropped: every number it could take belongs to the previous source.
    expect(late?.seq, 'output sequence number of the late packet').not.toBe(2002);
    expect(rewriter.lookup(2002)).toMatchObject({ stream: a, inSeq: 102 });
  });

  it('resendable(): a packet is resent at most three times per interval, a number used again resets it, and nothing from before the last switch is resent', () => {
    // A sends 100..102 (out 2000..2002), B takes over at its packet 50 (out 2003, 2004).
    const rewriter = new StreamRewriter<Source>(2000, 0);
    for (const inSeq of [100, 101, 102]) rewriter.rewrite(a, inSeq, 0, VIDEO_CLOCK, 0);
    expect(rewriter.resendable(2001, 10, 100)).toBe(true);
    expect(rewriter.resendable(2001, 60, 100), 'asked again within the interval: the second resend').toBe(true);
    expect(rewriter.resendable(2001, 70, 100), 'the third').toBe(true);
    expect(rewriter.resendable(2001, 80, 100), 'a fourth within the interval').toBe(false);
    expect(rewriter.resendable(2001, 110, 100), 'asked again after it').toBe(true);
    expect(rewriter.resendable(2002, 110, 100), 'another packet').toBe(true);
    rewriter.rewrite(b, 50, 0, VIDEO_CLOCK, 120);
    rewriter.rewrite(b, 51, 0, VIDEO_CLOCK, 121);
    expect([2000, 2001, 2002].map((seq) => rewriter.resendable(seq, 1000, 100)), 'A, before the switch').toEqual([false, false, false]);
    expect([2003, 2004].map((seq) => rewriter.resendable(seq, 1000, 100)), 'B').toEqual([true, true]);
    // 4096 numbers later slot 2003's number is used again: a new packet, never resent.
    for (let inSeq = 52; inSeq <= 50 + 4096; inSeq++) rewriter.rewrite(b, inSeq, 0, VIDEO_CLOCK, 1001);
    expect(rewriter.resendable(2003 + 4096, 1002, 100)).toBe(true);
    expect(rewriter.lookup(2003), 'the number it replaced').toBeUndefined();
  });

  it('before its first packet it knows no number and resends nothing (its history is made then: a consumer on the native core never has one)', () => {
    const rewriter = new StreamRewriter<Source>(2000, 0);
    expect(rewriter.lookup(2000)).toBeUndefined();
    expect(rewriter.resendable(2000, 1000, 0)).toBe(false);
    expect(rewriter.reserve(3)).toBeUndefined();
    rewriter.rewrite(a, 5, 0, VIDEO_CLOCK, 0);
    expect(rewriter.lookup(2000)).toMatchObject({ stream: a, inSeq: 5 });
  });

  it('timestampAt() extrapolates from the last packet by wall time', () => {
    const rewriter = new StreamRewriter<Source>(0, 10_000);
    rewriter.rewrite(a, 1, 0, VIDEO_CLOCK, 500);

    expect(rewriter.timestampAt(600, VIDEO_CLOCK)).toBe(10_000 + 9000);
    expect(rewriter.lastPacketAt).toBe(500);
  });
});
