// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileMessageBody, parseFileMessageBody, signedManifestOf } from '../../../client/src/core/files/manifest.ts';
import type { TransferProgress } from '../../../client/src/core/files/progress.ts';
import { readFileBlob } from '../../../client/src/core/store/files.ts';
import { freshDb, newParty, openPair, randomBlob, sha256Hex, teardown, transfersFor, waitForState, type Party } from './helpers.ts';

let an: Party;
let binh: Party;
let chi: Party;
beforeAll(async () => {
  [an, binh, chi] = await Promise.all([newParty('An'), newParty('Binh'), newParty('Chi')]);
});
afterEach(teardown);
const db = freshDb;

async function sendAndReceive(file: File) {
  const [dbA, dbB] = [db(), db()];
  const ta = transfersFor(an, dbA);
  const tb = transfersFor(binh, dbB);
  const { sa, sb } = await openPair(an, binh);
  ta.attach(sa);
  tb.attach(sb);
  const progress: TransferProgress[] = [];
  ta.on('progress', (p) => progress.push(p));
  const verified = waitForState(tb, ['verified', 'failed'], { direction: 'receive' });
  const done = waitForState(ta, ['done', 'failed'], { direction: 'send' });
  const sending = waitForState(ta, ['sending'], { direction: 'send' });
  const row = await ta.send(file);
  // Chunks go out under the file's id while it is hashed (file-begin, then file-manifest).
  expect((await sending).id).toBe(row.id);
  // Being told about the same channel again (RoomSession and attach both) changes nothing.
  ta.onSessionOpen(sa);
  tb.onSessionOpen(sb);
  const got = await verified;
  expect(got.error).toBeUndefined();
  expect(got).toMatchObject({ id: row.id, state: 'verified', peer: 'an', name: file.name, size: file.size });
  expect((await done).state).toBe('done');
  const received = await readFileBlob(dbB, row.id, 'application/octet-stream');
  return { row, received, dbA, dbB, progress, ta, tb, sa, sb };
}

describe('sending a file', () => {
  it('an image-sized file arrives byte-identical and is marked verified', async () => {
    const file = randomBlob(300_000, 'photo.png', 'image/png');
    const { row, received, dbB, dbA } = await sendAndReceive(file);
    expect(new Uint8Array(await received.arrayBuffer())).toEqual(new Uint8Array(await file.arrayBuffer()));
    const stored = await dbB.files.get(row.id);
    expect(stored).toMatchObject({ state: 'verified', name: 'photo.png', type: 'image/png', size: 300_000, from: 'An' });
    expect(stored?.sha256).toBe(await sha256Hex(file));
    // The sender keeps its own copy for its history, and marks it sent once delivered.
    expect((await dbA.files.get(row.id))?.state).toBe('sent');
    expect(await sha256Hex(await readFileBlob(dbA, row.id, 'image/png'))).toBe(stored?.sha256);
  });

  it('a multi-megabyte file arrives with the same SHA-256, with progress, speed and time left', async () => {
    const file = randomBlob(6 * 1024 * 1024 + 123, 'video.mp4', 'video/mp4');
    const { row, received, progress } = await sendAndReceive(file);
    expect(received.size).toBe(file.size);
    expect(await sha256Hex(received)).toBe(await sha256Hex(file));
    expect(row.sha256).toBe(await sha256Hex(file));
    const last = progress[progress.length - 1]!;
    expect(last).toMatchObject({ id: row.id, direction: 'send', bytes: file.size, total: file.size, etaMs: 0 });
    expect(progress.every((p, i) => i === 0 || p.bytes >= progress[i - 1]!.bytes)).toBe(true);
    expect(progress.some((p) => p.bytesPerSecond > 0)).toBe(true);
  });

  it('reads the file once: its hash and the sender’s copy come from the reads that send it', async () => {
    const file = randomBlob(5 * 1024 * 1024 + 77, 'once.bin', 'application/octet-stream');
    // Bytes of the file read into memory, by whoever reads them (slices stored as they are are not reads).
    let bytesRead = 0;
    const slice = file.slice.bind(file);
    file.slice = (start?: number, end?: number, type?: string) => {
      const part = slice(start, end, type);
      const read = part.arrayBuffer.bind(part);
      part.arrayBuffer = () => ((bytesRead += part.size), read());
      return part;
    };
    const { row, received, dbA } = await sendAndReceive(file);
    expect(await sha256Hex(received)).toBe(row.sha256);
    expect(bytesRead).toBe(file.size);
    expect(await sha256Hex(await readFileBlob(dbA, row.id, 'application/octet-stream'))).toBe(row.sha256);
  });

  it('an empty file arrives and is verified', async () => {
    const file = new File([], 'empty.txt', { type: 'text/plain' });
    const { received, row } = await sendAndReceive(file);
    expect(received.size).toBe(0);
    expect(row.chunkCount).toBe(1);
  });

  it('a group file goes to every member over their own channel, one signed manifest for all', async () => {
    const [dbA, dbB, dbC] = [db(), db(), db()];
    const ta = transfersFor(an, dbA);
    const tb = transfersFor(binh, dbB);
    const tc = transfersFor(chi, dbC);
    const ab = await openPair(an, binh);
    const ac = await openPair(an, chi);
    ta.attach(ab.sa);
    ta.attach(ac.sa);
    tb.attach(ab.sb);
    tc.attach(ac.sb);
    const atB = waitForState(tb, ['verified', 'failed']);
    const atC = waitForState(tc, ['verified', 'failed']);
    const file = randomBlob(500_000, 'notes.pdf', 'application/pdf');
    const row = await ta.send(file);
    expect((await atB).state).toBe('verified');
    expect((await atC).state).toBe('verified');
    const hash = await sha256Hex(file);
    expect(await sha256Hex(await readFileBlob(dbB, row.id, 'application/octet-stream'))).toBe(hash);
    expect(await sha256Hex(await readFileBlob(dbC, row.id, 'application/octet-stream'))).toBe(hash);
    expect((await dbB.files.get(row.id))?.signature).toBe((await dbC.files.get(row.id))?.signature);
  });

  it('a private file goes only to its recipient', async () => {
    const [dbA, dbB, dbC] = [db(), db(), db()];
    const ta = transfersFor(an, dbA);
    const tb = transfersFor(binh, dbB);
    const tc = transfersFor(chi, dbC);
    const ab = await openPair(an, binh);
    const ac = await openPair(an, chi);
    ta.attach(ab.sa);
    ta.attach(ac.sa);
    tb.attach(ab.sb);
    tc.attach(ac.sb);
    let chiHeard = false;
    tc.on('state', () => (chiHeard = true));
    const atB = waitForState(tb, ['verified', 'failed']);
    const row = await ta.send(randomBlob(40_000, 'secret.txt', 'text/plain'), 'Binh');
    expect((await atB).state).toBe('verified');
    expect(row.to).toBe('Binh');
    expect(chiHeard).toBe(false);
    expect(await dbC.files.count()).toBe(0);
  });

  it('a file announced while the recipient was away is fetched from its author later', async () => {
    const [dbA, dbB] = [db(), db()];
    const ta = transfersFor(an, dbA);
    const file = randomBlob(100_000, 'later.png', 'image/png');
    // Nobody online: only An's own copy and the chat message exist.
    const row = await ta.send(file);
    const announced = parseFileMessageBody(fileMessageBody(signedManifestOf(row)))!;
    const tb = transfersFor(binh, dbB);
    const { sa, sb } = await openPair(an, binh);
    ta.attach(sa);
    tb.attach(sb);
    const verified = waitForState(tb, ['verified', 'failed']);
    await tb.request(sb, announced, row.sentAt);
    expect((await verified).state).toBe('verified');
    expect(await sha256Hex(await readFileBlob(dbB, row.id, 'image/png'))).toBe(await sha256Hex(file));
  });

  it('the file message body carries the signed manifest and parses back', async () => {
    const file = randomBlob(20_000, 'a.txt', 'text/plain');
    const { row } = await sendAndReceive(file);
    const body = fileMessageBody(signedManifestOf(row));
    expect(parseFileMessageBody(body)).toEqual(signedManifestOf(row));
    expect(parseFileMessageBody('{"manifest":{}}')).toBeNull();
    expect(parseFileMessageBody('not json')).toBeNull();
  });
});
