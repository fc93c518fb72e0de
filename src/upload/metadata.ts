/**
 * The well-known keys of an upload's `metadata` (spec/UPLOAD.md §11.4.1, FW-UP-61), as tus's
 * Upload-Metadata carries `filename` and `filetype`: the original file's name and its media type,
 * so that a listing can show what an upload is. Other keys stay opaque strings within the map's
 * bounds. Both sides validate with the same functions.
 */

/** Largest `name`, in bytes of UTF-8 (NAME_MAX of common file systems). */
export const MAX_METADATA_NAME_BYTES = 255;
/** Largest `content_type`, in characters. */
export const MAX_CONTENT_TYPE = 127;

/** The well-known `metadata` keys: the source's file name and its media type (FW-UP-61). */
export const MetadataKey = { name: 'name', contentType: 'content_type' } as const;

/** RFC 6838 §4.2 restricted names, `type/subtype`, without parameters. */
const CONTENT_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/u;

/** Why `value` is not a valid `name` (a base name: no path, no control characters), or undefined. */
export function invalidName(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (Buffer.byteLength(value, 'utf8') > MAX_METADATA_NAME_BYTES) return `must be at most ${MAX_METADATA_NAME_BYTES} bytes of UTF-8`;
  if (value === '.' || value === '..') return 'must not be "." or ".."';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[/\\\u0000-\u001f\u007f]/u.test(value)) return 'must be a base name: no "/", "\\" or control characters';
  return undefined;
}

/** Why `value` is not a valid `content_type` (`type/subtype`), or undefined. */
export function invalidContentType(value: string): string | undefined {
  if (value.length > MAX_CONTENT_TYPE || !CONTENT_TYPE_PATTERN.test(value)) return `must be a media type "type/subtype" of at most ${MAX_CONTENT_TYPE} characters`;
  return undefined;
}

/** The first problem of the well-known keys of `metadata`, as "key: why", or undefined. */
export function metadataProblem(metadata: Readonly<Record<string, string>>): string | undefined {
  const name = metadata[MetadataKey.name];
  const nameWhy = name === undefined ? undefined : invalidName(name);
  if (nameWhy !== undefined) return `"${MetadataKey.name}" ${nameWhy}`;
  const type = metadata[MetadataKey.contentType];
  const typeWhy = type === undefined ? undefined : invalidContentType(type);
  if (typeWhy !== undefined) return `"${MetadataKey.contentType}" ${typeWhy}`;
  return undefined;
}
