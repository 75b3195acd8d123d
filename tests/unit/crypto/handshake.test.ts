import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../client/src/core/errors.ts';
import {
  HANDSHAKE_VERSION,
  helloCanonicalBytes,
  normalizeFingerprint,
  startHandshake,
  transcriptHash,
  type Hello,
  type SessionKeys,
  type SignedHello,
} from '../../../client/src/core/crypto/handshake.ts';
import { equalBytes, fromUtf8, toB64u, toHex, utf8 } from '../../../client/src/core/crypto/bytes.ts';
import { deriveRoomSecrets } from '../../../client/src/core/crypto/kdf.ts';
import { signBytes } from '../../../client/src/core/crypto/sign.ts';
import { expectCode, fingerprint, loadVectors, newParty, paramsFor, type Party } from './helpers.ts';

const FP_A = fingerprint(1);
const FP_B = fingerprint(2);

async function send(from: SessionKeys, to: SessionKeys, text: string): Promise<string> {
  const nonce = from.send.nextNonce();
  const aad = utf8('hdr');
  return fromUtf8(await to.receive.open(nonce, aad, await from.send.seal(nonce, aad, utf8(text))));
}

/** A malicious or buggy peer signs whatever hello it likes with its own key. */
async function signAs(party: Party, hello: Hello): Promise<SignedHello> {
  return { hello, signature: toB64u(await signBytes(party.identity.privateKey, helloCanonicalBytes(hello))) };
}

async function setup() {
  const alice = await newParty('alice');
  const bob = await newParty('bob');
  return { alice, bob };
}

describe('channel handshake', () => {
  it('completes, and both sides can then exchange messages both ways', async () => {
    const { alice, bob } = await setup();
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    const [ka, kb] = await Promise.all([a.finish(b.hello), b.finish(a.hello)]);
    expect(toHex(ka.transcriptHash)).toBe(toHex(kb.transcriptHash));
    expect(await send(ka, kb, 'hi bob')).toBe('hi bob');
    expect(await send(kb, ka, 'hi alice')).toBe('hi alice');
    // The two directions use different keys: a frame cannot be bounced back to its sender.
    const nonce = ka.send.nextNonce();
    const sealed = await ka.send.seal(nonce, utf8('hdr'), utf8('echo'));
    await expectCode(ka.receive.open(nonce, utf8('hdr'), sealed), ErrorCode.Decrypt);
  });

  it('gives each connection fresh keys (forward secrecy per connection)', async () => {
    const { alice, bob } = await setup();
    const run = async () => {
      const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
      const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
      return Promise.all([a.finish(b.hello), b.finish(a.hello)]);
    };
    const [[a1], [, b2]] = await Promise.all([run(), run()]);
    const nonce = a1.send.nextNonce();
    const sealed = await a1.send.seal(nonce, utf8('hdr'), utf8('old'));
    await expectCode(b2.receive.open(nonce, utf8('hdr'), sealed), ErrorCode.Decrypt);
  });

  it('completes in a password room when both members know the password', async () => {
    const { alice, bob } = await setup();
    const { peerProofKey } = await deriveRoomSecrets('hunter2', 'general', 1_000);
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true, { peerProofKey }));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false, { peerProofKey }));
    expect(a.hello.hello.roomProof).toBeDefined();
    const [ka, kb] = await Promise.all([a.finish(b.hello), b.finish(a.hello)]);
    expect(await send(ka, kb, 'locked room')).toBe('locked room');
  });

  it('refuses a stranger the server admitted to a password room (no proof)', async () => {
    const { alice, bob } = await setup();
    const { peerProofKey } = await deriveRoomSecrets('hunter2', 'general', 1_000);
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true, { peerProofKey }));
    const stranger = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    await expectCode(a.finish(stranger.hello), ErrorCode.RoomProof);
  });

  it('refuses a member whose proof comes from the wrong password', async () => {
    const { alice, bob } = await setup();
    const right = await deriveRoomSecrets('hunter2', 'general', 1_000);
    const wrong = await deriveRoomSecrets('hunter3', 'general', 1_000);
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true, { peerProofKey: right.peerProofKey }));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false, { peerProofKey: wrong.peerProofKey }));
    await expectCode(a.finish(b.hello), ErrorCode.RoomProof);
  });

  it('refuses a room proof copied from another member’s hello', async () => {
    const { alice, bob } = await setup();
    const carol = await newParty('carol');
    const { peerProofKey } = await deriveRoomSecrets('hunter2', 'general', 1_000);
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true, { peerProofKey }));
    const fromCarol = await startHandshake(paramsFor(carol, alice, FP_B, FP_A, false, { peerProofKey }));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    // Bob (no password) re-signs his hello with Carol's proof pasted in.
    const forged = await signAs(bob, { ...b.hello.hello, roomProof: fromCarol.hello.hello.roomProof! });
    await expectCode(a.finish(forged), ErrorCode.RoomProof);
  });

  it('refuses a peer that sends a room proof for an open room', async () => {
    const { alice, bob } = await setup();
    const { peerProofKey } = await deriveRoomSecrets('hunter2', 'general', 1_000);
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false, { peerProofKey }));
    await expectCode(a.finish(b.hello), ErrorCode.RoomProof);
  });

  it('refuses a hello replayed from an earlier connection', async () => {
    const { alice, bob } = await setup();
    const earlier = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    // A new connection has new DTLS certificates.
    const FP_A2 = fingerprint(3);
    const FP_B2 = fingerprint(4);
    const a = await startHandshake(paramsFor(alice, bob, FP_A2, FP_B2, true));
    await expectCode(a.finish(earlier.hello), ErrorCode.FingerprintMismatch);
  });

  it('refuses when the server rewrote a DTLS fingerprint in the relayed SDP', async () => {
    const { alice, bob } = await setup();
    const FP_MITM = fingerprint(9);
    // Alice sees the attacker's certificate as Bob's; Bob sees the attacker's as Alice's.
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_MITM, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_MITM, false));
    await expectCode(a.finish(b.hello), ErrorCode.FingerprintMismatch);
    await expectCode(b.finish(a.hello), ErrorCode.FingerprintMismatch);
  });

  it('refuses weak or malformed fingerprints, locally and from the peer', async () => {
    const { alice, bob } = await setup();
    const sha1 = fingerprint(5, 'sha-1', 20);
    await expectCode(startHandshake(paramsFor(alice, bob, sha1, FP_B, true)), ErrorCode.FingerprintMismatch);
    await expectCode(startHandshake(paramsFor(alice, bob, FP_A, 'sha-256 AB:CD', true)), ErrorCode.FingerprintMismatch);
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    const weak = await signAs(bob, { ...b.hello.hello, localFingerprint: fingerprint(2, 'md5', 16) });
    await expectCode(a.finish(weak), ErrorCode.FingerprintMismatch);
  });

  it('compares fingerprints case-insensitively', async () => {
    expect(normalizeFingerprint('SHA-256 ' + FP_A.slice(8).toLowerCase())).toBe(FP_A);
    expect(normalizeFingerprint(fingerprint(1, 'sha-512', 64))).toBe(fingerprint(1, 'sha-512', 64));
    const { alice, bob } = await setup();
    const a = await startHandshake(paramsFor(alice, bob, FP_A.toLowerCase(), FP_B, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, 'SHA-256 ' + FP_A.slice(8), false));
    await Promise.all([a.finish(b.hello), b.finish(a.hello)]);
  });

  it('refuses a peer speaking another handshake version', async () => {
    const { alice, bob } = await setup();
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    const v2 = await signAs(bob, { ...b.hello.hello, v: HANDSHAKE_VERSION + 1 });
    await expectCode(a.finish(v2), ErrorCode.Version);
    // A future version with another hello shape still gets a version error.
    const a2 = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    await expectCode(a2.finish({ hello: { v: 2, kem: 'x' }, signature: '' } as unknown as SignedHello), ErrorCode.Version);
  });

  it('refuses a hello whose signature does not verify', async () => {
    const { alice, bob } = await setup();
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    const sig = Buffer.from(b.hello.signature, 'base64url');
    sig[5]! ^= 1;
    await expectCode(a.finish({ ...b.hello, signature: toB64u(sig) }), ErrorCode.BadSignature);
  });

  it('refuses a hello whose ephemeral key a man in the middle replaced', async () => {
    const { alice, bob } = await setup();
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    const mitm = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    const swapped = { ...b.hello, hello: { ...b.hello.hello, ephemeralKey: mitm.hello.hello.ephemeralKey } };
    await expectCode(a.finish(swapped), ErrorCode.BadSignature);
  });

  it('refuses a peer whose identity key is not the announced (pinned) key', async () => {
    const { alice, bob } = await setup();
    const mallory = await newParty('bob');
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const m = await startHandshake(paramsFor(mallory, alice, FP_B, FP_A, false));
    await expectCode(a.finish(m.hello), ErrorCode.IdentityMismatch);
  });

  it('refuses a peer using another username, or naming someone else as its peer', async () => {
    const { alice, bob } = await setup();
    const a1 = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const wrongName = await startHandshake(paramsFor({ ...bob, username: 'bobby' }, alice, FP_B, FP_A, false));
    await expectCode(a1.finish(wrongName.hello), ErrorCode.IdentityMismatch);

    const a2 = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const wrongPeer = await startHandshake(paramsFor(bob, { ...alice, username: 'carol' }, FP_B, FP_A, false));
    await expectCode(a2.finish(wrongPeer.hello), ErrorCode.IdentityMismatch);
  });

  it('refuses a peer that was given a different key for us (server lied to it)', async () => {
    const { alice, bob } = await setup();
    const fakeAlice = await newParty('alice');
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b = await startHandshake(paramsFor(bob, fakeAlice, FP_B, FP_A, false));
    await expectCode(a.finish(b.hello), ErrorCode.IdentityMismatch);
  });

  it('refuses a hello for another room', async () => {
    const { alice, bob } = await setup();
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false, { room: 'random' }));
    await expectCode(a.finish(b.hello), ErrorCode.IdentityMismatch);
  });

  it('refuses our own hello reflected back, and a peer that copies our nonce or ephemeral key', async () => {
    const { alice, bob } = await setup();
    const a1 = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    await expectCode(a1.finish(a1.hello), ErrorCode.IdentityMismatch);

    const a2 = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b2 = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    await expectCode(a2.finish(await signAs(bob, { ...b2.hello.hello, nonce: a2.hello.hello.nonce })), ErrorCode.IdentityMismatch);

    const a3 = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b3 = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    await expectCode(
      a3.finish(await signAs(bob, { ...b3.hello.hello, ephemeralKey: a3.hello.hello.ephemeralKey })),
      ErrorCode.IdentityMismatch,
    );
  });

  it('refuses a low-order ephemeral key that would make the session key public', async () => {
    const { alice, bob } = await setup();
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    for (const point of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      const a2 = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
      await expectCode(a2.finish(await signAs(bob, { ...b.hello.hello, ephemeralKey: toB64u(point) })), ErrorCode.BadSignature);
    }
    await Promise.all([a.finish(b.hello), b.finish(a.hello)]);
  });

  it('refuses malformed hellos with ERR_MALFORMED', async () => {
    const { alice, bob } = await setup();
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    const cases: unknown[] = [
      null,
      'hello',
      { hello: null, signature: 'x' },
      { hello: b.hello.hello },
      { hello: { ...b.hello.hello, room: 42 }, signature: b.hello.signature },
      { hello: { ...b.hello.hello, v: '1' }, signature: b.hello.signature },
      { hello: { ...b.hello.hello, username: 'x'.repeat(10_000) }, signature: b.hello.signature },
    ];
    for (const c of cases) {
      const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
      await expectCode(a.finish(c as SignedHello), ErrorCode.Malformed);
    }
  });

  it('accepts one hello per handshake: a second is a renegotiation and is refused', async () => {
    const { alice, bob } = await setup();
    const a = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    const b = await startHandshake(paramsFor(bob, alice, FP_B, FP_A, false));
    await a.finish(b.hello);
    await expectCode(a.finish(b.hello), ErrorCode.Renegotiation);
    // A failed attempt also closes the handshake: no second guess for an attacker.
    const c = await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true));
    await expectCode(c.finish(null as unknown as SignedHello), ErrorCode.Malformed);
    await expectCode(c.finish(b.hello), ErrorCode.Renegotiation);
  });

  it('puts a fresh 32-byte nonce and a fresh ephemeral key in every hello', async () => {
    const { alice, bob } = await setup();
    const h1 = (await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true))).hello.hello;
    const h2 = (await startHandshake(paramsFor(alice, bob, FP_A, FP_B, true))).hello.hello;
    expect(Buffer.from(h1.nonce, 'base64url').length).toBe(32);
    expect(h1.nonce).not.toBe(h2.nonce);
    expect(h1.ephemeralKey).not.toBe(h2.ephemeralKey);
    expect(equalBytes(Buffer.from(h1.identityKey, 'base64url'), alice.identity.publicKey)).toBe(true);
  });
});

describe('handshake golden vectors', () => {
  const v = loadVectors<{
    initiator: SignedHello;
    responder: SignedHello;
    initiatorHelloCanonicalHex: string;
    responderHelloCanonicalHex: string;
    transcriptHashHex: string;
  }>('hello-transcript.json');

  it('encodes fixed hellos to the golden canonical bytes', () => {
    expect(toHex(helloCanonicalBytes(v.initiator.hello))).toBe(v.initiatorHelloCanonicalHex);
    expect(toHex(helloCanonicalBytes(v.responder.hello))).toBe(v.responderHelloCanonicalHex);
  });

  it('hashes the fixed transcript to the golden value, and order matters', async () => {
    expect(toHex(await transcriptHash(v.initiator, v.responder))).toBe(v.transcriptHashHex);
    expect(toHex(await transcriptHash(v.responder, v.initiator))).not.toBe(v.transcriptHashHex);
  });

  it('signs every hello field: changing any one changes the signed bytes', () => {
    const base = helloCanonicalBytes(v.responder.hello);
    const h = v.responder.hello;
    const variants: Hello[] = [
      { ...h, v: 2 },
      { ...h, room: 'x' },
      { ...h, username: 'x' },
      { ...h, peerUsername: 'x' },
      { ...h, identityKey: 'x' },
      { ...h, peerIdentityKey: 'x' },
      { ...h, ephemeralKey: 'x' },
      { ...h, nonce: 'x' },
      { ...h, localFingerprint: 'x' },
      { ...h, remoteFingerprint: 'x' },
      { ...h, roomProof: 'x' },
      (({ roomProof: _drop, ...rest }) => rest)(h),
    ];
    for (const variant of variants) expect(equalBytes(helloCanonicalBytes(variant), base)).toBe(false);
  });
});
