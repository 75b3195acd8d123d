import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';

/** What run.ts hands each bench group. */
export interface GroupContext {
  /** Aborted when the group runs past its time budget; the group's browser closes with it. */
  signal: AbortSignal;
  /** URL of the built, served bench page (built once, on first use). */
  benchPageUrl(): Promise<string>;
}

/** A Chromium for one group, closed when the group ends or its budget runs out. */
export function withBrowser<T>(signal: AbortSignal, fn: (browser: Browser) => Promise<T>): Promise<T> {
  return withClosing(signal, launchChromium, fn);
}

/** Something opened for one group (a browser, a browser profile), closed when the group ends or its budget runs out. */
export async function withClosing<C extends { close(): Promise<unknown> }, T>(signal: AbortSignal, open: () => Promise<C>, fn: (opened: C) => Promise<T>): Promise<T> {
  signal.throwIfAborted();
  const opened = await open();
  const close = () => void opened.close().catch(() => undefined);
  signal.addEventListener('abort', close, { once: true });
  try {
    return await fn(opened);
  } finally {
    signal.removeEventListener('abort', close);
    await opened.close().catch(() => undefined);
  }
}

/**
 * Runs every step once per round, rotating which goes first each round (A B, B A, ... or
 * A B C, B C A, ...), so slow drift in the machine's load falls on all of them alike.
 */
export async function alternate<K extends string, T>(rounds: number, steps: Record<K, () => Promise<T>>): Promise<Record<K, T[]>> {
  const keys = Object.keys(steps) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as T[]])) as Record<K, T[]>;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[(round + i) % keys.length]!;
      out[key].push(await steps[key]());
    }
  }
  return out;
}
