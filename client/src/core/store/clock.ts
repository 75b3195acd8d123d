/**
 * Everything time-based in the store takes a Clock instead of calling Date.now(), so
 * tests can jump seven days ahead without waiting or patching globals.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
};
