// Draws the PNG app icons (client/public/icons/*.png) from the same shapes as
// client/public/icon.svg, with Node built-ins only: nothing is downloaded and nothing is
// installed. Run it again after changing the icon: `node client/scripts/make-icons.mjs`.
// The PNGs are checked in, so the build itself never runs this.
import { writeFileSync, mkdirSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const OUT = fileURLToPath(new URL('../public/icons/', import.meta.url));

/** Brand colours, the same as icon.svg and the light theme's --accent. */
const TEAL = [0x0f, 0x76, 0x6e, 255];
const WHITE = [255, 255, 255, 255];
const CLEAR = [0, 0, 0, 0];

/** Subsamples per pixel side: 4x4 gives smooth enough edges at 180-512 px. */
const SUPERSAMPLE = 4;

/**
 * Maskable icons may be cropped to any shape down to a circle of 40% of the size around
 * the centre (the "safe zone"); the glyph is scaled to sit well inside it.
 */
const MASKABLE_GLYPH_SCALE = 0.8;

function inRoundRect(x, y, x0, y0, x1, y1, r) {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

function inTriangle(x, y, [ax, ay], [bx, by], [cx, cy]) {
  const s = (px, py, qx, qy, rx, ry) => (px - rx) * (qy - ry) - (qx - rx) * (py - ry);
  const d1 = s(x, y, ax, ay, bx, by);
  const d2 = s(x, y, bx, by, cx, cy);
  const d3 = s(x, y, cx, cy, ax, ay);
  const neg = d1 < 0 || d2 < 0 || d3 < 0;
  const pos = d1 > 0 || d2 > 0 || d3 > 0;
  return !(neg && pos);
}

/** The speech bubble with a padlock, in icon.svg's 64-unit space. */
function glyph(x, y) {
  const shackle =
    (y <= 22 && Math.abs(Math.hypot(x - 32, y - 22) - 3) <= 1) ||
    (y >= 22 && y <= 24 && (Math.abs(x - 29) <= 1 || Math.abs(x - 35) <= 1));
  if (shackle || inRoundRect(x, y, 27, 24, 37, 32, 1.5)) return TEAL;
  if (inRoundRect(x, y, 16, 14, 48, 40, 6) || inTriangle(x, y, [30, 40], [21, 48], [21, 40])) return WHITE;
  return null;
}

/** `maskable`: full-bleed square background, glyph inside the safe zone; else a rounded tile. */
function colourAt(x, y, maskable) {
  if (maskable) {
    const s = MASKABLE_GLYPH_SCALE;
    return glyph(32 + (x - 32) / s, 31 + (y - 32) / s) ?? TEAL;
  }
  if (!inRoundRect(x, y, 0, 0, 64, 64, 14)) return CLEAR;
  return glyph(x, y) ?? TEAL;
}

function render(size, maskable) {
  const rgba = Buffer.alloc(size * size * 4);
  const n = SUPERSAMPLE;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const c = colourAt(((px + (sx + 0.5) / n) * 64) / size, ((py + (sy + 0.5) / n) * 64) / size, maskable);
          // Premultiplied sums, so clear samples do not darken the edges.
          r += c[0] * c[3]; g += c[1] * c[3]; b += c[2] * c[3]; a += c[3];
        }
      }
      const i = (py * size + px) * 4;
      rgba[i] = a ? Math.round(r / a) : 0;
      rgba[i + 1] = a ? Math.round(g / a) : 0;
      rgba[i + 2] = a ? Math.round(b / a) : 0;
      rgba[i + 3] = Math.round(a / (n * n));
    }
  }
  return rgba;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, k) => {
  let c = k;
  for (let i = 0; i < 8; i++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** An 8-bit RGBA PNG, filter 0 on every row. */
function encodePng(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const ICONS = [
  { file: 'icon-192.png', size: 192, maskable: false },
  { file: 'icon-512.png', size: 512, maskable: false },
  { file: 'maskable-192.png', size: 192, maskable: true },
  { file: 'maskable-512.png', size: 512, maskable: true },
  // iOS fills transparency with black and rounds the corners itself: opaque, full bleed.
  { file: 'apple-touch-icon.png', size: 180, maskable: true },
];

mkdirSync(OUT, { recursive: true });
for (const { file, size, maskable } of ICONS) {
  const png = encodePng(size, render(size, maskable));
  writeFileSync(OUT + file, png);
  console.log(`${file}: ${size}x${size}, ${png.length} bytes`);
}
