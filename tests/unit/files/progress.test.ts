import { describe, expect, it } from 'vitest';
import { combineSendLines, formatTimeLeft, type TransferLine } from '../../../client/src/core/files/progress.ts';

const MB = 1_000_000;
const line = (state: TransferLine['state'], bytes: number, extra: Partial<TransferLine> = {}): TransferLine => ({
  state,
  bytes,
  total: 10 * MB,
  bytesPerSecond: 0,
  etaMs: null,
  ...extra,
});

describe('one line for a file sent to several recipients', () => {
  it('is moving while any recipient is, with everyone’s bytes over everyone’s size', () => {
    const shown = combineSendLines([
      line('done', 10 * MB, { etaMs: 0 }),
      line('sending', 4 * MB, { bytesPerSecond: 2 * MB, etaMs: 3_000 }),
      line('sending', 1 * MB, { bytesPerSecond: 1 * MB, etaMs: 9_000 }),
    ]);
    expect(shown).toEqual({ state: 'sending', bytes: 15 * MB, total: 30 * MB, bytesPerSecond: 3 * MB, etaMs: 9_000 });
  });

  it('does not jump to the latest recipient: the finished one keeps its share of the bar', () => {
    const slow = line('sending', 2 * MB, { bytesPerSecond: MB, etaMs: 8_000 });
    const before = combineSendLines([line('sending', 9 * MB, { bytesPerSecond: 3 * MB, etaMs: 300 }), slow]);
    const after = combineSendLines([line('done', 10 * MB, { etaMs: 0 }), slow]);
    expect(after.bytes).toBeGreaterThan(before.bytes);
    expect(after).toMatchObject({ state: 'sending', bytes: 12 * MB, total: 20 * MB, etaMs: 8_000 });
  });

  it('shows a recipient’s dropped channel while no one else is being sent to, and waits for one who is away', () => {
    expect(combineSendLines([line('interrupted', 3 * MB), line('waiting', 0)]).state).toBe('interrupted');
    expect(combineSendLines([line('offered', 0), line('waiting', 0)])).toMatchObject({ state: 'offered', etaMs: null });
    // The time left is not known while nobody is being sent to.
    expect(combineSendLines([line('sending', 3 * MB, { bytesPerSecond: MB, etaMs: 7_000 }), line('waiting', 0)])).toMatchObject({ state: 'sending', etaMs: 7_000 });
  });

  it('is done once every transfer ended and someone has the file; a recipient who failed leaves the bar', () => {
    const shown = combineSendLines([line('done', 10 * MB, { etaMs: 0 }), line('failed', 5 * MB, { error: 'Binh could not take the file' })]);
    expect(shown).toEqual({ state: 'done', bytes: 10 * MB, total: 10 * MB, bytesPerSecond: 0, etaMs: 0 });
  });

  it('says why when nobody got it', () => {
    const shown = combineSendLines([line('cancelled', 1 * MB), line('failed', 5 * MB, { error: 'their device has no more room' })]);
    expect(shown).toMatchObject({ state: 'failed', error: 'their device has no more room' });
    expect(combineSendLines([line('cancelled', 1 * MB)]).state).toBe('cancelled');
  });

  it('is a single recipient’s own line when there is one', () => {
    const only = line('sending', 4 * MB, { bytesPerSecond: 2 * MB, etaMs: 3_000 });
    expect(combineSendLines([only])).toEqual(only);
  });
});

describe('formatTimeLeft', () => {
  it('reads in seconds under a minute, never 0', () => {
    expect(formatTimeLeft(0)).toBe('1 s');
    expect(formatTimeLeft(1_400)).toBe('1 s');
    expect(formatTimeLeft(59_400)).toBe('59 s');
  });
  it('rounds minutes up, so the last minute never reads 0 min', () => {
    expect(formatTimeLeft(60_000)).toBe('1 min');
    expect(formatTimeLeft(61_000)).toBe('2 min');
    expect(formatTimeLeft(59 * 60_000)).toBe('59 min');
  });
  it('gives hours and minutes past an hour', () => {
    expect(formatTimeLeft(60 * 60_000)).toBe('1 h');
    expect(formatTimeLeft(65 * 60_000)).toBe('1 h 5 min');
    expect(formatTimeLeft(3 * 3_600_000 + 1_000)).toBe('3 h 1 min');
  });
});
