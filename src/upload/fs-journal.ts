/**
 * The FS backend's record of stored chunks (`uploads/<id>/chunks.log`): one line per chunk,
 * `<index> <sha256> <crc32>\n`, appended and fdatasync'd before the chunk is acknowledged. An
 * append is the cheap durable step per chunk (the manifest is rewritten only when the record
 * changes). A crash can cut the last line short; reading stops at the first line that is not whole
 * and valid, and cuts the file back to the lines before it, so the next append starts clean.
 */

import { open, readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { ifExists } from './fs-util.ts';

export const JOURNAL = 'chunks.log';

const LINE = /^(0|[1-9]\d{0,15}) ([0-9a-f]{64}) ([0-9a-f]{8})$/;

function lineOf(index: number, sha256: string): string {
  const body = `${index} ${sha256}`;
  return `${body} ${crc32(body).toString(16).padStart(8, '0')}\n`;
}

/** Appends one stored chunk; durable when it resolves (with `durable`). */
export async function appendChunk(path: string, index: number, sha256: string, durable: boolean): Promise<void> {
  const fh = await open(path, 'a');
  try {
    await fh.write(lineOf(index, sha256));
    if (durable) await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** The stored chunks (index → SHA-256); a torn tail is cut off the file. An absent journal holds none. */
export async function readJournal(path: string, chunkCount: number, durable: boolean): Promise<Map<number, string>> {
  const chunks = new Map<number, string>();
  const text = await ifExists(() => readFile(path, 'latin1'));
  if (text === undefined) return chunks;
  let whole = 0;
  for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', whole)) {
    const m = LINE.exec(text.slice(whole, end));
    const index = Number(m?.[1]);
    if (m?.[2] === undefined || index >= chunkCount || crc32(`${m[1]} ${m[2]}`).toString(16).padStart(8, '0') !== m[3]) break;
    if (!chunks.has(index)) chunks.set(index, m[2]);
    whole = end + 1;
  }
  if (whole < text.length) {
    const fh = await open(path, 'r+');
    try {
      await fh.truncate(whole);
      if (durable) await fh.datasync();
    } finally {
      await fh.close();
    }
  }
  return chunks;
}
