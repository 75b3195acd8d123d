import { createPrivateKey, createPublicKey } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { createIdentity, unsealPrivateKey, type Identity } from '../../client/src/core/chat/identity.ts';
import { fromB64u } from '../../client/src/core/crypto/bytes.ts';
import { CliError, CliErrorCode } from './errors.ts';

/**
 * The headless peer's identity: an Ed25519 private key in a PKCS#8 PEM file readable by
 * its owner only, the way SSH keeps `~/.ssh/id_ed25519`.
 *
 * Why not the browser's sealed copy: there the PKCS#8 is encrypted under a non-extractable
 * device key that IndexedDB keeps for the profile. Node has no such place; the device key
 * would have to be written next to the data it seals, which protects nothing. What guards
 * the key here is the file mode (0600, in a 0700 folder). In memory the key is imported
 * non-extractable, like in the browser.
 */

const PEM_LABEL = 'PRIVATE KEY';

export async function loadOrCreateIdentity(path: string, now: number): Promise<Identity> {
  try {
    return await loadIdentity(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return createIdentityFile(path, now);
}

async function loadIdentity(path: string): Promise<Identity> {
  const info = await stat(path);
  // NOTE: a key others can read is a key others can sign with; refuse, like ssh does.
  if ((info.mode & 0o077) !== 0) {
    throw new CliError(CliErrorCode.Identity, `${path} can be read by other users (mode ${(info.mode & 0o777).toString(8)}); run: chmod 600 '${path}'`);
  }
  const pem = await readFile(path, 'utf8');
  let der: Buffer;
  let publicKey: Uint8Array;
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' });
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`it holds a ${key.asymmetricKeyType} key, not Ed25519`);
    der = key.export({ type: 'pkcs8', format: 'der' });
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    publicKey = fromB64u(String(jwk.x));
  } catch (e) {
    throw new CliError(CliErrorCode.Identity, `${path} is not a usable identity key: ${(e as Error).message}`, { cause: e });
  }
  try {
    const privateKey = await globalThis.crypto.subtle.importKey('pkcs8', new Uint8Array(der), { name: 'Ed25519' }, false, ['sign']);
    return { publicKey, privateKey };
  } finally {
    der.fill(0);
  }
}

/** A new identity made exactly as the web app makes one, its private half written once. */
async function createIdentityFile(path: string, now: number): Promise<Identity> {
  const stored = await createIdentity(now);
  const pkcs8 = await unsealPrivateKey(stored);
  if (!pkcs8) throw new CliError(CliErrorCode.Identity, 'the new identity has no exportable copy');
  const body = Buffer.from(pkcs8).toString('base64').replace(/.{1,64}/g, '$&\n');
  pkcs8.fill(0);
  let handle;
  try {
    // 'wx': never overwrite an identity that appeared meanwhile.
    handle = await open(path, 'wx', 0o600);
    await handle.writeFile(`-----BEGIN ${PEM_LABEL}-----\n${body}-----END ${PEM_LABEL}-----\n`, 'utf8');
    await handle.sync();
  } catch (e) {
    throw new CliError(CliErrorCode.Identity, `could not write ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    await handle?.close();
  }
  return { publicKey: stored.publicKey, privateKey: stored.privateKey };
}
