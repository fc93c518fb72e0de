/**
 * What unfinished uploads may hold, server-wide and per principal (spec/UPLOAD.md §11.6, FW-UP-37).
 * A create costs little on the wire and much on the server (a directory, a manifest, a promise of
 * `size` bytes kept for the TTL), so every create is admitted against four budgets: unfinished
 * uploads of the principal, unfinished uploads in total, bytes the principal declared, and the
 * free space of the storage (what every unfinished upload still has to write must fit in it).
 *
 * An upload counts from its create until it leaves `receiving` for good: committed, aborted, or
 * expired and swept (an expired upload's data stays until the sweeper or an abort deletes it, and
 * so does its cost). The rules live here once; the stores report the four events (admit, chunk
 * stored, finished, and, for a store that outlives the process, restore at start).
 */

import { checkIntegers } from '../arguments.ts';
import { FramewireError } from '../errors.ts';

/** What unfinished uploads may hold, server-wide and per principal (spec/UPLOAD.md §11.6). */
export interface UploadQuotaLimits {
  /** Unfinished uploads of one principal. Default 64. */
  readonly maxUploadsPerPrincipal: number;
  /** Unfinished uploads of all principals together. Default 4096. */
  readonly maxUploads: number;
  /** Sum of the sizes one principal declared for its unfinished uploads. Default 1 TiB. */
  readonly maxDeclaredBytesPerPrincipal: number;
  /** Storage that must stay free beyond what every unfinished upload (and the new one) still has to write. Default 1 GiB. */
  readonly minFreeBytes: number;
  /** The retry_after_ms hint of a refused create (uploads finish or expire meanwhile). Default 30 000. */
  readonly retryAfterMs: number;
}

/** The default of every upload quota. */
export const defaultUploadQuota: UploadQuotaLimits = {
  maxUploadsPerPrincipal: 64,
  maxUploads: 4096,
  maxDeclaredBytesPerPrincipal: 2 ** 40,
  minFreeBytes: 2 ** 30,
  retryAfterMs: 30_000,
};

export function resolveUploadQuota(o: Partial<UploadQuotaLimits> = {}): UploadQuotaLimits {
  return checkIntegers('upload quota', { ...defaultUploadQuota, ...o });
}

/** Free bytes of the storage, for the free-space rule; absent for storage without a disk (memory). */
export type FreeBytes = () => Promise<number>;

interface Held {
  readonly owner: string;
  readonly declared: number;
  stored: number;
}

interface Usage {
  uploads: number;
  declared: number;
}

/** A store's admission of creates against its quota, and what unfinished uploads hold now (`usage()`). */
export class UploadQuota {
  readonly limits: UploadQuotaLimits;
  readonly #free: FreeBytes | undefined;
  readonly #held = new Map<string, Held>();
  readonly #byOwner = new Map<string, Usage>();
  /** Bytes still to be written by all unfinished uploads: Σ (declared − stored). */
  #outstanding = 0;

  constructor(limits: Partial<UploadQuotaLimits> = {}, free?: FreeBytes) {
    this.limits = resolveUploadQuota(limits);
    this.#free = free;
  }

  /** Unfinished uploads and their declared bytes, of one principal or of all. */
  usage(owner?: string): { readonly uploads: number; readonly declared: number; readonly outstanding: number } {
    if (owner !== undefined) {
      const u = this.#byOwner.get(owner);
      let outstanding = 0;
      for (const h of this.#held.values()) if (h.owner === owner) outstanding += h.declared - h.stored;
      return { uploads: u?.uploads ?? 0, declared: u?.declared ?? 0, outstanding };
    }
    let declared = 0;
    for (const h of this.#held.values()) declared += h.declared;
    return { uploads: this.#held.size, declared, outstanding: this.#outstanding };
  }

  /** Admits a new upload `id` of `size` declared bytes, or fails with LIMIT_EXCEEDED + retry_after_ms (FW-UP-37). */
  async admit(id: string, owner: string, size: number): Promise<void> {
    // Read before the checks, which then run without an await: two creates never both take the last room.
    const free = this.#free === undefined ? undefined : await this.#free();
    const l = this.limits;
    const mine = this.#byOwner.get(owner) ?? { uploads: 0, declared: 0 };
    if (mine.uploads + 1 > l.maxUploadsPerPrincipal) this.#refuse(`${l.maxUploadsPerPrincipal} unfinished uploads for this principal`, 'maxUploadsPerPrincipal');
    if (this.#held.size + 1 > l.maxUploads) this.#refuse(`${l.maxUploads} unfinished uploads on this server`, 'maxUploads');
    if (mine.declared + size > l.maxDeclaredBytesPerPrincipal) {
      this.#refuse(`declared bytes of this principal's unfinished uploads would exceed ${l.maxDeclaredBytesPerPrincipal}`, 'maxDeclaredBytesPerPrincipal');
    }
    if (free !== undefined && this.#outstanding + size > free - l.minFreeBytes) {
      // No figures: the server's free space is its own business (FW-SEC-2).
      this.#refuse('not enough free storage for the declared size', 'minFreeBytes');
    }
    this.#hold(id, owner, size, 0);
  }

  /** An unfinished upload found in storage at start: counted without checks. */
  restore(id: string, owner: string, size: number, stored: number): void {
    if (!this.#held.has(id)) this.#hold(id, owner, size, stored);
  }

  /** A chunk of `bytes` became durable: the storage it was promised is now used. */
  chunkStored(id: string, bytes: number): void {
    const h = this.#held.get(id);
    if (h === undefined) return;
    const taken = Math.min(bytes, h.declared - h.stored);
    h.stored += taken;
    this.#outstanding -= taken;
  }

  /** The upload left `receiving` for good (committed, aborted, expired and deleted); repeated calls are harmless. */
  finished(id: string): void {
    const h = this.#held.get(id);
    if (h === undefined) return;
    this.#held.delete(id);
    this.#outstanding -= h.declared - h.stored;
    const u = this.#byOwner.get(h.owner);
    if (u === undefined) return;
    u.uploads--;
    u.declared -= h.declared;
    if (u.uploads === 0) this.#byOwner.delete(h.owner);
  }

  #hold(id: string, owner: string, size: number, stored: number): void {
    this.#held.set(id, { owner, declared: size, stored });
    this.#outstanding += size - stored;
    const u = this.#byOwner.get(owner) ?? { uploads: 0, declared: 0 };
    u.uploads++;
    u.declared += size;
    this.#byOwner.set(owner, u);
  }

  #refuse(what: string, limit: keyof UploadQuotaLimits): never {
    const retryAfterMs = this.limits.retryAfterMs;
    throw new FramewireError('LIMIT_EXCEEDED', `upload not created: ${what}; retry after ${retryAfterMs} ms`, { retryAfterMs, details: { limit } });
  }
}
