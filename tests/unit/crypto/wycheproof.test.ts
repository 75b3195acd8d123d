import { describe, expect, it } from 'vitest';
import { ErrorCode, isChatError } from '../../../client/src/core/errors.ts';
import { importAesKey, openAesGcm, sealAesGcm } from '../../../client/src/core/crypto/aead.ts';
import { toHex } from '../../../client/src/core/crypto/bytes.ts';
import { verifyBytes } from '../../../client/src/core/crypto/sign.ts';
import { x25519SharedSecret } from '../../../client/src/core/crypto/handshake.ts';
import { hex, loadVectors } from './helpers.ts';

// Known-answer vectors from Wycheproof (trimmed copies, see tests/vectors/README.md), run
// through the same wrappers the chat uses. Every verdict must match.

interface AeadVector {
  tcId: number;
  flags: string[];
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid';
}
interface EdVector {
  tcId: number;
  flags: string[];
  msg: string;
  sig: string;
  result: 'valid' | 'invalid';
}
interface XdhVector {
  tcId: number;
  flags: string[];
  public: string;
  private: string;
  shared: string;
  result: 'valid' | 'acceptable' | 'invalid';
}

const aes = loadVectors<{ groups: { ivSize: number; tests: AeadVector[] }[] }>('wycheproof-aes-gcm.json');
const ed = loadVectors<{ groups: { pk: string; tests: EdVector[] }[] }>('wycheproof-ed25519.json');
const xdh = loadVectors<{ tests: XdhVector[] }>('wycheproof-x25519.json');

describe('Wycheproof AES-256-GCM through openAesGcm / sealAesGcm', () => {
  const tests = aes.groups.flatMap((g) => g.tests);

  it('covers valid and invalid vectors', () => {
    expect(tests.length).toBeGreaterThanOrEqual(45);
    expect(new Set(tests.map((t) => t.result))).toEqual(new Set(['valid', 'invalid']));
  });

  it('matches every verdict and every ciphertext', async () => {
    const mismatches: string[] = [];
    for (const t of tests) {
      const key = await importAesKey(hex(t.key));
      const sealed = new Uint8Array([...hex(t.ct), ...hex(t.tag)]);
      let opened: string | undefined;
      try {
        opened = toHex(await openAesGcm(key, hex(t.iv), hex(t.aad), sealed));
      } catch (e) {
        if (!isChatError(e)) throw e;
        const expected = hex(t.iv).length === 12 ? ErrorCode.Decrypt : ErrorCode.BadNonce;
        if (e.code !== expected) mismatches.push(`${t.tcId}: code ${e.code}`);
      }
      if ((opened !== undefined) !== (t.result === 'valid')) mismatches.push(`${t.tcId}: verdict`);
      if (opened !== undefined && opened !== t.msg) mismatches.push(`${t.tcId}: plaintext`);
      if (t.result === 'valid') {
        const resealed = toHex(await sealAesGcm(key, hex(t.iv), hex(t.aad), hex(t.msg)));
        if (resealed !== t.ct + t.tag) mismatches.push(`${t.tcId}: seal`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('refuses to seal with a zero-length IV (it would leak the GHASH key)', async () => {
    const key = await importAesKey(new Uint8Array(32));
    await expect(sealAesGcm(key, new Uint8Array(0), new Uint8Array(0), new Uint8Array(1))).rejects.toMatchObject({
      code: ErrorCode.BadNonce,
    });
  });
});

describe('Wycheproof Ed25519 through verifyBytes', () => {
  it('covers every flag of the source file', () => {
    const flags = new Set(ed.groups.flatMap((g) => g.tests.flatMap((t) => t.flags)));
    for (const f of [
      'Valid', 'Ktv', 'InvalidSignature', 'TruncatedSignature', 'SignatureWithGarbage',
      'CompressedSignature', 'InvalidEncoding', 'SignatureMalleability', 'InvalidKtv', 'TinkOverflow',
    ]) {
      expect(flags.has(f), f).toBe(true);
    }
  });

  it('matches every verdict', async () => {
    const mismatches: number[] = [];
    for (const g of ed.groups) {
      for (const t of g.tests) {
        const ok = await verifyBytes(hex(g.pk), hex(t.sig), hex(t.msg));
        if (ok !== (t.result === 'valid')) mismatches.push(t.tcId);
      }
    }
    expect(mismatches).toEqual([]);
  });
});

// PKCS#8 wrapper for a raw X25519 private key (RFC 8410). The import lives here, in the
// test, so production code has no test-only entry point.
const X25519_PKCS8_PREFIX = hex('302e020100300506032b656e04220420');

async function importPrivate(raw: Uint8Array): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey(
    'pkcs8',
    new Uint8Array([...X25519_PKCS8_PREFIX, ...raw]),
    { name: 'X25519' },
    false,
    ['deriveBits'],
  );
}

describe('Wycheproof X25519 through x25519SharedSecret', () => {
  it('covers every flag of the source file', () => {
    const flags = new Set(xdh.tests.flatMap((t) => t.flags));
    for (const f of [
      'Normal', 'Twist', 'SpecialPublicKey', 'LowOrderPublic', 'SmallPublicKey', 'ZeroSharedSecret',
      'NonCanonicalPublic', 'Ktv', 'EdgeCaseShared', 'EdgeCaseMultiplication', 'EdgeCasePrivateKey',
    ]) {
      expect(flags.has(f), f).toBe(true);
    }
  });

  it('matches every verdict and refuses every all-zero shared secret', async () => {
    const mismatches: string[] = [];
    let refusedZero = 0;
    for (const t of xdh.tests) {
      const priv = await importPrivate(hex(t.private));
      let shared: string | undefined;
      try {
        shared = toHex(await x25519SharedSecret(priv, hex(t.public)));
      } catch (e) {
        if (!isChatError(e, ErrorCode.BadSignature)) mismatches.push(`${t.tcId}: ${String(e)}`);
      }
      const zero = /^0+$/.test(t.shared);
      if (zero) {
        if (shared !== undefined) mismatches.push(`${t.tcId}: accepted a zero secret`);
        else refusedZero++;
      } else if (t.result === 'invalid') {
        if (shared !== undefined) mismatches.push(`${t.tcId}: accepted an invalid vector`);
      } else if (shared !== t.shared) {
        // valid and (non-zero) acceptable vectors: we compute them, and exactly.
        mismatches.push(`${t.tcId}: ${shared ?? 'refused'}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(refusedZero).toBeGreaterThanOrEqual(20);
  });
});
