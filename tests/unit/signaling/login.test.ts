import { describe, expect, it } from 'vitest';
import { joinTokenVerifier, verifyLogin } from '../../../signaling/src/login.ts';
import { loginChallengeText } from '../../../signaling/src/protocol.ts';
import { webCryptoIdentity } from '../../load/signaling-client.ts';

describe('login signature check', () => {
  it('accepts the WebCrypto signature of the domain-separated challenge text, and nothing else', async () => {
    const id = await webCryptoIdentity();
    const other = await webCryptoIdentity();
    const text = loginChallengeText('challenge-1', 'an', id.publicKey);
    const signature = await id.sign(text);
    expect(verifyLogin(id.publicKey, text, signature)).toBe(true);
    expect(verifyLogin(other.publicKey, text, signature)).toBe(false);
    expect(verifyLogin(id.publicKey, loginChallengeText('challenge-2', 'an', id.publicKey), signature)).toBe(false);
    expect(verifyLogin(id.publicKey, loginChallengeText('challenge-1', 'binh', id.publicKey), signature)).toBe(false);
    // A signature over the bare challenge (no domain separation) is refused.
    expect(verifyLogin(id.publicKey, text, await id.sign('challenge-1'))).toBe(false);
    expect(verifyLogin(id.publicKey, text, '')).toBe(false);
    expect(verifyLogin(id.publicKey, text, 'A'.repeat(86))).toBe(false);
    expect(verifyLogin('A'.repeat(42), text, signature)).toBe(false);
    expect(verifyLogin('', text, signature)).toBe(false);
  });

  it('stores SHA-256 of the join token, never the token', () => {
    const v = joinTokenVerifier('dG9rZW4');
    expect(v).toBe('PEaenWxYddN6Q_NT1PiOYfz4EsZu7jRXRlpAsNpBU-A');
    expect(v).not.toContain('dG9rZW4');
    expect(joinTokenVerifier('b3RoZXI')).not.toBe(v);
  });
});
