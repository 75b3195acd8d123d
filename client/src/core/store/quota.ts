import { ChatError, ErrorCode, isChatError } from '../errors.ts';

export const QUOTA_MESSAGE =
  'Your browser has no more room for this chat; free space and try again. Earlier history is untouched.';

/**
 * Asks the browser not to evict our data under storage pressure. Without it, history
 * and (worse) the identity keys are "best effort" and may be wiped silently.
 */
export async function requestPersistence(): Promise<boolean> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (!storage?.persist) return false;
  try {
    if (await storage.persisted()) return true;
    return await storage.persist();
  } catch {
    return false;
  }
}

const QUOTA_NAMES = new Set(['QuotaExceededError', 'NS_ERROR_DOM_QUOTA_REACHED']);

/**
 * Recognises a full disk however it reaches us: a DOMException from IndexedDB, Dexie's
 * QuotaExceededError, or either wrapped by Dexie (AbortError.inner, BulkError.failures,
 * cause).
 */
export function isQuotaError(e: unknown, depth = 0): boolean {
  if (depth > 4 || typeof e !== 'object' || e === null) return false;
  if (isChatError(e, ErrorCode.Quota)) return true;
  const err = e as { name?: unknown; code?: unknown; inner?: unknown; cause?: unknown; failures?: unknown };
  if (typeof err.name === 'string' && QUOTA_NAMES.has(err.name)) return true;
  // Legacy numeric code of QuotaExceededError (still what some WebKit versions set).
  if (typeof DOMException !== 'undefined' && e instanceof DOMException && err.code === 22) return true;
  if (isQuotaError(err.inner, depth + 1) || isQuotaError(err.cause, depth + 1)) return true;
  if (Array.isArray(err.failures)) return err.failures.some((f) => isQuotaError(f, depth + 1));
  return false;
}

/**
 * Runs a write and turns a quota failure into ERR_QUOTA with words a person understands.
 * IndexedDB aborts the whole transaction on quota errors, so what was stored before is
 * intact, as the message promises.
 */
export async function wrapQuota<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isChatError(e)) throw e;
    if (isQuotaError(e)) throw new ChatError(ErrorCode.Quota, QUOTA_MESSAGE, { cause: e });
    throw e;
  }
}
