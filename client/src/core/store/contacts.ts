import { systemClock, type Clock } from './clock.ts';
import type { ChatDatabase, ContactRow } from './db.ts';
import { wrapQuota } from './quota.ts';

/**
 * Pinned identity keys (trust on first use). The store only records; the chat layer
 * decides what a changed key blocks. Compare-and-pin runs in one transaction, so two
 * tabs seeing a user at once cannot pin two different keys.
 */

export type PinResult =
  | { status: 'new'; contact: ContactRow }
  | { status: 'same'; contact: ContactRow }
  /** NOTE: the pinned key is NOT replaced; sending stays blocked until the user accepts. */
  | { status: 'changed'; contact: ContactRow; offeredKey: string };

export function findContact(db: ChatDatabase, username: string): Promise<ContactRow | undefined> {
  return db.contacts.get(username);
}

export async function pinContactKey(db: ChatDatabase, username: string, publicKey: string, clock: Clock = systemClock): Promise<PinResult> {
  return wrapQuota(() =>
    db.transaction('rw', db.contacts, async (): Promise<PinResult> => {
      const pinned = await db.contacts.get(username);
      if (!pinned) {
        const contact: ContactRow = { username, publicKey, firstSeenAt: clock.now(), verified: false };
        await db.contacts.add(contact);
        return { status: 'new', contact };
      }
      if (pinned.publicKey === publicKey) return { status: 'same', contact: pinned };
      return { status: 'changed', contact: pinned, offeredKey: publicKey };
    }),
  );
}

/** The user accepted a changed key: pin it, remember the old one, and drop "verified". */
export async function acceptContactKey(db: ChatDatabase, username: string, publicKey: string, clock: Clock = systemClock): Promise<ContactRow> {
  return db.transaction('rw', db.contacts, async () => {
    const pinned = await db.contacts.get(username);
    const now = clock.now();
    const contact: ContactRow = pinned
      ? pinned.publicKey === publicKey
        ? pinned
        : { ...pinned, publicKey, previousKey: pinned.publicKey, keyChangedAt: now, verified: false }
      : { username, publicKey, firstSeenAt: now, verified: false };
    await db.contacts.put(contact);
    return contact;
  });
}

/** Safety numbers compared out of band. Only for the key that was compared. */
export async function setContactVerified(db: ChatDatabase, username: string, publicKey: string, verified: boolean): Promise<boolean> {
  const changed = await db.contacts
    .where('username')
    .equals(username)
    .and((c) => c.publicKey === publicKey)
    .modify({ verified });
  return changed > 0;
}
