/** client.bundle.gzip: what a visitor downloads in JavaScript, as a static host would serve it. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BenchFigure, log, round } from './figure.ts';

// Not imported from tests/support/server.ts, which would load the signaling server too.
const clientDist = fileURLToPath(new URL('../../client/dist', import.meta.url));
/** kB as Vite's build report prints it (1 kB = 1000 bytes), so the two can be compared. */
const KB = 1000;

export async function runBundleBench(): Promise<BenchFigure[]> {
  const assets = join(clientDist, 'assets');
  const files = (await readdir(assets)).filter((f) => f.endsWith('.js'));
  if (files.length === 0) throw new Error(`no JavaScript in ${assets}: run npm run build first`);
  let gzipped = 0;
  for (const file of files) {
    // Each file on its own, at zlib's default level: what a server's on-the-fly gzip sends.
    const size = gzipSync(await readFile(join(assets, file))).length;
    log('bundle', `${file}: ${(size / KB).toFixed(2)} kB gzip`);
    gzipped += size;
  }
  return [{ name: 'client.bundle.gzip', value: round(gzipped / KB, 2), unit: 'kB' }];
}
