/**
 * Principals for `framewire serve`: which token belongs to which principal (spec/UPLOAD.md §11.9,
 * spec/EVENTS.md FW-EV-5). Clients send `{token}` as HELLO `auth`; the server's authentication hook
 * answers with `{id: <principal>}`, and every upload, object and event-stream instance belongs to
 * that principal.
 *
 * The tokens file (`serve --tokens FILE`) has one entry per line: the token, white space, the
 * principal's name. Blank lines and lines starting with `#` are ignored. A principal may have
 * several tokens (rotation); a token names exactly one principal. `serve --token T` is the file
 * with the single line `T token`: every holder of T is the one principal named `token`.
 *
 * Tokens are kept as SHA-256 digests; a client's token is compared with every one of them with
 * crypto.timingSafeEqual (token-compare.ts), so the time taken tells nothing about how much of a
 * real token it guessed, nor which one matched.
 */

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { lookupToken } from './token-compare.ts';

/** 1..64 characters: letters, digits and `._@-`, starting with a letter or digit. */
export const PRINCIPAL_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/u;

/** The principal of `serve --token`. */
export const SINGLE_TOKEN_PRINCIPAL = 'token';

/** Token digest (hex) → principal name. */
export type TokenTable = ReadonlyMap<string, string>;

const digest = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** Parses the text of a tokens file; errors name the line. */
export function parseTokens(text: string, source = 'tokens file'): TokenTable {
  const table = new Map<string, string>();
  const lines = text.split(/\r?\n/u);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${source}:${i + 1}`;
    const fields = line.split(/\s+/u);
    if (fields.length !== 2) throw new Error(`${where}: expected "<token> <principal>", got ${fields.length} field(s)`);
    const [token, name] = fields as [string, string];
    if (!PRINCIPAL_NAME.test(name)) throw new Error(`${where}: principal "${name}" must be 1..64 of letters, digits and ._@- (starting with a letter or digit)`);
    const key = digest(token);
    if (table.has(key)) throw new Error(`${where}: this token is already listed (a token names one principal)`);
    table.set(key, name);
  }
  if (table.size === 0) throw new Error(`${source}: no tokens`);
  return table;
}

export async function loadTokens(path: string): Promise<TokenTable> {
  return parseTokens(await readFile(path, 'utf8'), path);
}

export function singleToken(token: string): TokenTable {
  if (token === '' || /\s/u.test(token)) throw new Error('the token must be non-empty and contain no white space');
  return new Map([[digest(token), SINGLE_TOKEN_PRINCIPAL]]);
}

/** The server's authentication hook: HELLO auth `{token}` → `{id: principal}`, anything else refused. Compared in constant time (token-compare.ts). */
export function tokenAuthenticator(table: TokenTable): (credentials: unknown) => { readonly id: string } | false {
  const known = [...table].map(([hex, name]) => [Buffer.from(hex, 'hex'), name] as const);
  return (credentials) => {
    const name = lookupToken(known, (credentials as { token?: unknown } | undefined)?.token);
    return name === undefined ? false : { id: name };
  };
}
