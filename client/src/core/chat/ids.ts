import { randomBytes, toB64u } from '../crypto/bytes.ts';

/** 128 random bits: unique without coordination, unguessable, and URL-safe. */
export function newId(): string {
  return toB64u(randomBytes(16));
}
