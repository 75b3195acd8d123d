/**
 * chat.latency.p50, chat.latency.p99, chat.latency.8v2 (issue 4): how long a chat message
 * takes from the sender pressing Enter to its text being in the receiver's page, through
 * the real app (real signaling server, real UI, real browser contexts), against the raw
 * data-channel round trip between two pages of the same browser in the same run.
 */
import type { Browser } from 'playwright-core';
import { createRoom, joinRoom, openUser, sendMessage, waitConnected, type User } from '../support/browser.ts';
import { startTestServer } from '../support/server.ts';
import { type BenchPair, NAME_SHIM, openBenchPair, pingPong } from './bench-page.ts';
import { compared, type BenchFigure, log, median, percentile, round } from './figure.ts';
import { alternate, type GroupContext, withBrowser } from './group.ts';

const GROUP = 'chat';
/** Small on purpose: 8 browser tabs on 2 cores is heavy, and each message is measured at every receiver. */
const ROUNDS = 3;
/**
 * The same in both rooms, warm-up included, so that in every round the 2- and 8-member
 * timelines are equally long: the latency grows with the number of rendered messages.
 */
const MESSAGES_PER_ROUND = 30;
const WARMUP_MESSAGES = 8;
const PINGS_PER_ROUND = 100;
/** Between messages, so each is measured alone rather than queued behind the previous one. */
const PAUSE_MS = 100;
/** A message not rendered by then counts as lost (reported), not as a latency. */
const DELIVERY_TIMEOUT_MS = 15_000;
/** Eight members make 28 connections; on 2 cores a late joiner can take a while. */
const CONNECT_TIMEOUT_MS = 60_000;
const DUO = ['Duo1', 'Duo2'];
const OCTET = ['Oct1', 'Oct2', 'Oct3', 'Oct4', 'Oct5', 'Oct6', 'Oct7', 'Oct8'];
/** Each probe message carries a unique token; the page-side probe looks only for these. */
const TOKEN = 'bm\\d+x\\d+y[a-z0-9]+';

interface Probe {
  /** Wall-clock ms when the token first appeared in a rendered message, or null after the timeout. */
  seen(token: string, timeoutMs: number): Promise<number | null>;
  /** Wall-clock ms when Enter was pressed on a composer holding the token. */
  sent(token: string): number | null;
}

declare global {
  interface Window {
    __benchProbe?: Probe;
  }
}

/**
 * Runs inside an app page. The receiver's clock: a MutationObserver over the whole
 * document timestamps the first time a token appears inside a `[data-testid="message"]`
 * element (the DOM is updated; layout and paint follow in the same frame). The sender's
 * clock: a capture-phase keydown listener timestamps Enter before the app's own handler.
 * Both read performance.timeOrigin + performance.now(), the machine's wall clock.
 */
function installProbe(tokenSource: string): void {
  if (window.__benchProbe) return;
  const now = () => performance.timeOrigin + performance.now();
  const token = new RegExp(tokenSource, 'g');
  const seen = new Map<string, number>();
  const sent = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  const record = (message: Element, at: number) => {
    for (const m of (message.textContent ?? '').matchAll(token)) {
      if (seen.has(m[0])) continue;
      seen.set(m[0], at);
      waiters.get(m[0])?.(at);
    }
  };
  new MutationObserver((records) => {
    const at = now();
    for (const r of records) {
      const nodes = r.type === 'characterData' ? [r.target] : Array.from(r.addedNodes);
      for (const node of nodes) {
        const el = node instanceof Element ? node : node.parentElement;
        if (!el) continue;
        const message = el.closest('[data-testid="message"]');
        if (message) record(message, at);
        else el.querySelectorAll('[data-testid="message"]').forEach((m) => record(m, at));
      }
    }
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
  window.addEventListener(
    'keydown',
    (e) => {
      if (e.key !== 'Enter' || !(e.target instanceof HTMLTextAreaElement)) return;
      const at = now();
      for (const m of e.target.value.matchAll(token)) sent.set(m[0], at);
    },
    { capture: true },
  );
  window.__benchProbe = {
    seen(t, timeoutMs) {
      const at = seen.get(t);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve) => {
        const timer = setTimeout(() => (waiters.delete(t), resolve(null)), timeoutMs);
        waiters.set(t, (found) => (clearTimeout(timer), waiters.delete(t), resolve(found)));
      });
    },
    sent: (t) => sent.get(t) ?? null,
  };
}

/** Logs `names` in (one browser context each), puts them in one room, waits for the full mesh. */
async function openRoom(browser: Browser, url: string, room: string, names: readonly string[]): Promise<User[]> {
  const started = performance.now();
  const users: User[] = [];
  for (const name of names) {
    const user = await openUser(browser, url, name);
    if (users.length === 0) await createRoom(user.page, room);
    else await joinRoom(user.page, room);
    users.push(user);
  }
  // Waiting for the whole mesh at the end, not after each joiner: a pair that misses its
  // first offer reconnects only after a timeout, and those waits then overlap.
  await Promise.all(
    users.flatMap((user) => users.filter((other) => other !== user).map((other) => waitConnected(user.page, other.name, CONNECT_TIMEOUT_MS))),
  );
  for (const user of users) {
    await user.page.evaluate(NAME_SHIM);
    await user.page.evaluate(installProbe, TOKEN);
  }
  log(GROUP, `room "${room}": ${names.length} members connected in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return users;
}

let probeCounter = 0;

/**
 * `count` messages, senders taking turns, each measured at every other member.
 * Returns send→render latencies in ms, one per (message, receiver).
 */
async function measureRoom(users: readonly User[], count: number): Promise<number[]> {
  const latencies: number[] = [];
  /** Enter → the sender's own bubble: the sender-side share of the latency, for the log. */
  const ownBubble: number[] = [];
  let lost = 0;
  for (let i = 0; i < count; i++) {
    const sender = users[i % users.length]!;
    const receivers = users.filter((u) => u !== sender);
    const token = `bm${probeCounter++}x${i}y${Math.random().toString(36).slice(2, 8)}`;
    const waits = receivers.map((r) => r.page.evaluate(([t, ms]) => window.__benchProbe!.seen(t, ms), [token, DELIVERY_TIMEOUT_MS] as const));
    await sendMessage(sender.page, `latency probe ${token}`);
    const seenAt = await Promise.all(waits);
    const [sentAt, ownAt] = await sender.page.evaluate(async (t) => [window.__benchProbe!.sent(t), await window.__benchProbe!.seen(t, 1_000)] as const, token);
    if (sentAt === null) throw new Error(`${sender.name}'s Enter for ${token} was not seen`);
    if (ownAt !== null) ownBubble.push(ownAt - sentAt);
    for (const at of seenAt) {
      if (at === null) lost++;
      else latencies.push(at - sentAt);
    }
    await new Promise((r) => setTimeout(r, PAUSE_MS));
  }
  if (lost > 0) log(GROUP, `${lost} of ${count * (users.length - 1)} deliveries not rendered within ${DELIVERY_TIMEOUT_MS} ms (${users.length} members)`);
  if (latencies.length === 0) throw new Error(`no message was rendered (${users.length} members)`);
  log(GROUP, `${users.length} members, ${count} messages: p50 ${percentile(latencies, 50).toFixed(1)} ms to receivers, ${ownBubble.length ? percentile(ownBubble, 50).toFixed(1) : '?'} ms to the sender's own bubble`);
  return latencies;
}

async function openBaseline(browser: Browser, ctx: GroupContext): Promise<BenchPair | undefined> {
  try {
    const pair = await openBenchPair(browser, await ctx.benchPageUrl(), ['bare']);
    await pingPong(pair, 'bare', 20);
    return pair;
  } catch (e) {
    ctx.signal.throwIfAborted();
    log(GROUP, `raw data-channel baseline unavailable: ${(e as Error).message}`);
    return undefined;
  }
}

async function openOctet(browser: Browser, url: string, ctx: GroupContext): Promise<User[] | undefined> {
  try {
    return await openRoom(browser, url, 'bench octet', OCTET);
  } catch (e) {
    ctx.signal.throwIfAborted();
    log(GROUP, `8-member room could not be set up: ${(e as Error).message}`);
    return undefined;
  }
}

const fmtMs = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' ');

export async function runChatLatencyBench(ctx: GroupContext): Promise<BenchFigure[]> {
  const server = await startTestServer();
  try {
    return await withBrowser(ctx.signal, async (browser) => {
      const bare = await openBaseline(browser, ctx);
      const duo = await openRoom(browser, server.url, 'bench duo', DUO);
      const octet = await openOctet(browser, server.url, ctx);
      log(GROUP, `signaling server so far: ${server.metrics.rateLimited} event(s) rate-limited, ${server.metrics.rejectedTotal()} rejected`);
      // Untimed warm-up in each room: first renders, JIT, first sealed frames.
      await measureRoom(duo, WARMUP_MESSAGES);
      if (octet) await measureRoom(octet, WARMUP_MESSAGES);

      const none = () => Promise.resolve([] as number[]);
      const runs = await alternate(ROUNDS, {
        bare: bare ? () => pingPong(bare, 'bare', PINGS_PER_ROUND) : none,
        duo: () => measureRoom(duo, MESSAGES_PER_ROUND),
        octet: octet ? () => measureRoom(octet, MESSAGES_PER_ROUND) : none,
      });
      await bare?.close();

      const per = (rounds: number[][], q: number) => rounds.map((samples) => percentile(samples, q));
      const duoP50 = median(per(runs.duo, 50));
      const duoP99 = median(per(runs.duo, 99));
      log(GROUP, `2 members, p50 ms per round: ${fmtMs(per(runs.duo, 50))}; p99: ${fmtMs(per(runs.duo, 99))}`);
      const figures: BenchFigure[] = [];
      if (bare) {
        log(GROUP, `raw channel round trip, p50 ms per round: ${fmtMs(per(runs.bare, 50))}; p99: ${fmtMs(per(runs.bare, 99))}`);
        figures.push(compared('chat.latency.p50', 'ms', duoP50, median(per(runs.bare, 50))));
        figures.push(compared('chat.latency.p99', 'ms', duoP99, median(per(runs.bare, 99))));
      } else {
        figures.push({ name: 'chat.latency.p50', value: round(duoP50), unit: 'ms' });
        figures.push({ name: 'chat.latency.p99', value: round(duoP99), unit: 'ms' });
      }
      if (octet) {
        const octetP95 = median(per(runs.octet, 95));
        const duoP95 = median(per(runs.duo, 95));
        log(GROUP, `p95 ms per round: 8 members ${fmtMs(per(runs.octet, 95))}; 2 members ${fmtMs(per(runs.duo, 95))}`);
        const ratio = round(octetP95 / duoP95);
        figures.push({ name: 'chat.latency.8v2', value: ratio, unit: 'ratio', ratio });
      }
      return figures;
    });
  } finally {
    await server.stop();
  }
}
