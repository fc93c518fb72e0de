/**
 * The client's local record of unfinished uploads, as tus-js-client keeps one: a fingerprint of
 * the source (its path, size, modification time and a digest of its first bytes, with the server
 * it goes to) mapped to the upload id and the idempotency key, so that running the same upload
 * again resumes it instead of starting over (spec/UPLOAD.md §11.9, "The reference client").
 *
 * `ResumeStore` is the seam: applications replace it (a database, a browser's storage); the
 * default `FileResumeStore` keeps one JSON file under the user's state directory, replaced
 * atomically on each change and bounded to MAX_RESUME_ENTRIES records.
 */

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What resuming an upload needs, and what a person needs to recognise it. */
export interface ResumeEntry {
  /** Where the upload lives: `host:port` (or a quic:// address). */
  readonly server: string;
  readonly uploadId: string;
  readonly idempotencyKey: string;
  readonly size: number;
  readonly chunkSize: number;
  /** The source's absolute path, for messages. */
  readonly path: string;
  /** Unix ms after which the server has expired the upload (FW-UP-40); the record goes with it. */
  readonly expiresAt: number;
}

/** Where resume records live: replace it to keep them elsewhere (a database, a browser's storage). */
export interface ResumeStore {
  /** The record filed under `fingerprint`, if any (and not expired). */
  find(fingerprint: string): Promise<ResumeEntry | undefined>;
  /** Files `entry` under `fingerprint`, replacing what was there. */
  save(fingerprint: string, entry: ResumeEntry): Promise<void>;
  /** Forgets the record filed under `fingerprint`. */
  remove(fingerprint: string): Promise<void>;
}

/** Records kept at most; the ones that expire first are dropped beyond it. */
export const MAX_RESUME_ENTRIES = 1000;
/** Bytes of the source's beginning that its fingerprint digests. */
export const FINGERPRINT_PREFIX_BYTES = 64 * 1024;
const FILE_VERSION = 1;

/**
 * The default record file: `$FRAMEWIRE_STATE_DIR/uploads.json` if set (tests), else
 * `$XDG_STATE_HOME/framewire/uploads.json`, else `~/.local/state/framewire/uploads.json`.
 */
export function defaultResumeFile(env: NodeJS.ProcessEnv = process.env): string {
  const own = env['FRAMEWIRE_STATE_DIR'];
  if (own !== undefined && own !== '') return join(own, 'uploads.json');
  const xdg = env['XDG_STATE_HOME'];
  const base = xdg !== undefined && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'state');
  return join(base, 'framewire', 'uploads.json');
}

/** The fingerprint of file `path` on its way to `server`: equal as long as the file is unchanged. */
export async function fingerprintOf(path: string, server: string): Promise<string> {
  const absolute = await realpath(path);
  const info = await stat(absolute);
  const fh = await open(absolute, 'r');
  try {
    const head = Buffer.alloc(Math.min(FINGERPRINT_PREFIX_BYTES, info.size));
    let at = 0;
    while (at < head.length) {
      const { bytesRead } = await fh.read(head, at, head.length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    const headDigest = createHash('sha256').update(head.subarray(0, at)).digest('hex');
    return createHash('sha256').update(JSON.stringify([server, absolute, info.size, info.mtimeMs, headDigest])).digest('hex');
  } finally {
    await fh.close();
  }
}

interface RecordFile {
  readonly version: number;
  readonly entries: Record<string, ResumeEntry>;
}

function isEntry(v: unknown): v is ResumeEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e['server'] === 'string' && typeof e['uploadId'] === 'string' && /^[0-9a-f]{32}$/u.test(e['uploadId'])
    && typeof e['idempotencyKey'] === 'string' && typeof e['path'] === 'string'
    && [e['size'], e['chunkSize'], e['expiresAt']].every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0);
}

/** One JSON file; a missing or unreadable file is an empty record (the worst case is an upload that starts over). */
export class FileResumeStore implements ResumeStore {
  readonly path: string;
  readonly #now: () => number;

  constructor(path: string = defaultResumeFile(), now: () => number = Date.now) {
    this.path = path;
    this.#now = now;
  }

  /** {@inheritDoc ResumeStore.find} */
  async find(fingerprint: string): Promise<ResumeEntry | undefined> {
    const entry = (await this.#read()).get(fingerprint);
    return entry !== undefined && entry.expiresAt > this.#now() ? entry : undefined;
  }

  /** {@inheritDoc ResumeStore.save} */
  async save(fingerprint: string, entry: ResumeEntry): Promise<void> {
    const entries = await this.#read();
    entries.set(fingerprint, entry);
    await this.#write(entries);
  }

  /** {@inheritDoc ResumeStore.remove} */
  async remove(fingerprint: string): Promise<void> {
    const entries = await this.#read();
    if (!entries.delete(fingerprint)) return;
    await this.#write(entries);
  }

  async #read(): Promise<Map<string, ResumeEntry>> {
    const out = new Map<string, ResumeEntry>();
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(this.path, 'utf8'));
    } catch {
      return out;
    }
    const file = parsed as Partial<RecordFile> | null;
    if (file?.version !== FILE_VERSION || typeof file.entries !== 'object') return out;
    for (const [key, value] of Object.entries(file.entries)) if (/^[0-9a-f]{64}$/u.test(key) && isEntry(value)) out.set(key, value);
    return out;
  }

  async #write(entries: ReadonlyMap<string, ResumeEntry>): Promise<void> {
    const now = this.#now();
    const kept = [...entries]
      .filter(([, e]) => e.expiresAt > now)
      .sort(([, a], [, b]) => b.expiresAt - a.expiresAt)
      .slice(0, MAX_RESUME_ENTRIES);
    const body: RecordFile = { version: FILE_VERSION, entries: Object.fromEntries(kept) };
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(tmp, `${JSON.stringify(body, null, 1)}\n`, { mode: 0o600 });
      await rename(tmp, this.path);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }
}
