/** What tests/bench/history.ts asks of the history bench page (`window.historyBench`). */

export interface PopulateSpec {
  /** Messages to store, spread over the page's rooms. */
  total: number;
  /** Share of them sent more than 7 days ago, so the purge has that much to delete. */
  expiredFraction: number;
  /** Messages per `addMessages` call (one transaction each). */
  batch: number;
  /** Same seed, same history: runs compare like with like. */
  seed: number;
}

export interface PopulateResult {
  rows: number;
  /** Rows whose `expiresAt` had passed when population ended. */
  expired: number;
  ms: number;
  /** Room keys, largest first, with their message counts. */
  rooms: { name: string; rows: number }[];
}

export interface Timed {
  ms: number;
  /** Rows returned (open, search, scan) or deleted (purge). */
  rows: number;
}

export interface HistoryBenchApi {
  /** Deletes the bench database; the next call opens it afresh. */
  reset(): Promise<void>;
  populate(spec: PopulateSpec): Promise<PopulateResult>;
  /** The room screen's read: the newest `limit` messages through the chat layer's storage port. */
  open(room: string, limit: number): Promise<Timed>;
  /** The search box's call: `searchMessages` across rooms, then highlight ranges per hit. */
  search(query: string): Promise<Timed>;
  /** Every row of the messages table through `toArray()` (one getAll). */
  scan(): Promise<Timed>;
  /** Every row of the messages table through a cursor, one row per step. */
  scanCursor(): Promise<Timed>;
  /** The retention purge (`purgeExpired`, batched as the app does) with the real clock. */
  purge(): Promise<Timed & { left: number }>;
  /** Index entries under a folded word prefix, without reading rows. */
  prefixCount(prefix: string): Promise<number>;
}

declare global {
  interface Window {
    historyBench: HistoryBenchApi;
  }
}
