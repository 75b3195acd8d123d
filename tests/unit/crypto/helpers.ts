import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { ErrorCode } from '../../../client/src/core/errors.ts';
import { isChatError } from '../../../client/src/core/errors.ts';
import { generateIdentityKeyPair, type IdentityKeyPair } from '../../../client/src/core/crypto/sign.ts';
import type { HandshakeParams } from '../../../client/src/core/crypto/handshake.ts';

export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../vectors/${name}`, import.meta.url), 'utf8')) as T;
}

export function hex(s: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
}

export { mulberry32 } from '../../support/prng.ts';

/** Resolves to the ChatError code the promise rejected with; fails on success or a foreign error. */
export async function rejectionCode(p: Promise<unknown>): Promise<ErrorCode> {
  try {
    await p;
  } catch (e) {
    if (isChatError(e)) return e.code;
    throw new Error(`expected a ChatError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a rejection, but the promise resolved');
}

export async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  expect(await rejectionCode(p)).toBe(code);
}

export function fingerprint(seed: number, alg = 'sha-256', bytes = 32): string {
  const parts: string[] = [];
  for (let i = 0; i < bytes; i++) parts.push(((seed * 31 + i * 7) & 0xff).toString(16).padStart(2, '0').toUpperCase());
  return `${alg} ${parts.join(':')}`;
}

export interface Party {
  username: string;
  identity: IdentityKeyPair;
}

export async function newParty(username: string): Promise<Party> {
  return { username, identity: await generateIdentityKeyPair() };
}

/** Parameters for `me` talking to `peer` over a connection whose DTLS certs are fpMe/fpPeer. */
export function paramsFor(
  me: Party,
  peer: Party,
  fpMe: string,
  fpPeer: string,
  initiator: boolean,
  extra: Partial<HandshakeParams> = {},
): HandshakeParams {
  return {
    room: 'general',
    username: me.username,
    peerUsername: peer.username,
    identity: me.identity,
    expectedPeerKey: peer.identity.publicKey,
    localFingerprint: fpMe,
    remoteFingerprint: fpPeer,
    initiator,
    ...extra,
  };
}
