/**
 * Reads the DTLS certificate fingerprints out of an SDP. The handshake binds these, so a
 * signaling server that rewrites them to sit in the middle is caught. Firefox writes the
 * fingerprint at session level (before the m= line), Chromium inside the media section:
 * both are read alike.
 */
import type { SignalData } from '../../../../signaling/src/protocol.ts';

const STRONG = new Set(['sha-256', 'sha-384', 'sha-512']);

export type FingerprintResult = { ok: true; fingerprint: string } | { ok: false; reason: string };

export function normalizeFingerprint(algorithm: string, hex: string): string {
  return `${algorithm.toLowerCase()} ${hex.toUpperCase()}`;
}

/**
 * Exactly one distinct, strong fingerprint is accepted. NOTE: several different
 * fingerprints (per media section, or mixed algorithms) would let an attacker slip in a
 * second certificate that our hello does not bind, so they are refused.
 */
export function extractFingerprint(sdp: string): FingerprintResult {
  const found = new Set<string>();
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^a=fingerprint:(\S+)\s+([0-9A-Fa-f:]+)\s*$/.exec(line);
    if (!m) continue;
    const algorithm = m[1]!.toLowerCase();
    if (!STRONG.has(algorithm)) return { ok: false, reason: `weak fingerprint algorithm ${algorithm}` };
    found.add(normalizeFingerprint(algorithm, m[2]!));
  }
  if (found.size === 0) return { ok: false, reason: 'no fingerprint in the session description' };
  if (found.size > 1) return { ok: false, reason: 'several different fingerprints in one session description' };
  return { ok: true, fingerprint: [...found][0]! };
}

/**
 * An end-of-candidates marker (an empty candidate string) that names neither a media line
 * nor a mid. Firefox trickles an end-of-candidates marker when it has gathered everything
 * (with its mid, which browsers accept); one without either cannot even be built into an
 * RTCIceCandidate (TypeError), which simple-peer turns into destroying the connection. It
 * carries no address, so it is dropped rather than let one odd peer end the channel.
 */
export function isBareEndOfCandidates(data: SignalData): boolean {
  if (data.type !== 'candidate' || data.candidate.candidate.trim() !== '') return false;
  return (data.candidate.sdpMid ?? null) === null && (data.candidate.sdpMLineIndex ?? null) === null;
}
