import { ChatError, ErrorCode } from '../errors.ts';
import { compareBytes } from './bytes.ts';
import { canonicalBytes } from './canonical.ts';
import { sha256 } from './kdf.ts';
import { ED25519_PUBLIC_KEY_BYTES } from './limits.ts';

/**
 * Safety numbers: 60 digits two people compare out of band. If the server substituted a
 * key for either of them (a man in the middle), the digits differ on the two screens.
 */
export interface SafetyParty {
  /** The canonical (normalised) username, exactly as the registry binds it. */
  username: string;
  publicKey: Uint8Array;
}

const SAFETY_DOMAIN = 'p2pchat/v1/safety';
const CHUNKS_PER_PARTY = 6;
const CHUNK_BYTES = 5;
const CHUNK_MODULUS = 100_000n;

async function computeHalf(p: SafetyParty): Promise<string> {
  if (!(p.publicKey instanceof Uint8Array) || p.publicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new ChatError(ErrorCode.Malformed, 'safety number needs a 32-byte public key');
  }
  const digest = await sha256(canonicalBytes(SAFETY_DOMAIN, [p.publicKey, p.username]));
  let out = '';
  for (let i = 0; i < CHUNKS_PER_PARTY; i++) {
    let n = 0n;
    for (let j = 0; j < CHUNK_BYTES; j++) n = (n << 8n) | BigInt(digest[i * CHUNK_BYTES + j]!);
    out += (n % CHUNK_MODULUS).toString().padStart(5, '0');
  }
  return out;
}

export async function computeSafetyNumber(a: SafetyParty, b: SafetyParty): Promise<string> {
  const [ha, hb] = await Promise.all([computeHalf(a), computeHalf(b)]);
  // Fixed order (lower key first) so both sides show the same digits; the digit
  // comparison only breaks the tie of one key under two names.
  const order = compareBytes(a.publicKey, b.publicKey) || (ha < hb ? -1 : ha > hb ? 1 : 0);
  const digits = order <= 0 ? ha + hb : hb + ha;
  return digits.match(/\d{5}/g)!.join(' ');
}
