/** Issue 12, item 15: tokens are compared as SHA-256 digests with timingSafeEqual, against every known token. */

import { describe, expect, it } from 'vitest';
import { lookupToken, tokenDigest } from '../../src/cli/token-compare.ts';
import { parseTokens, tokenAuthenticator } from '../../src/cli/tokens.ts';

describe('token comparison', () => {
  it('finds the value of the one equal token, whatever the lengths; anything else is undefined, never a throw', () => {
    const known = [[tokenDigest('s3cret'), 'alice'], [tokenDigest('other-token'), 'bob']] as const;
    expect(lookupToken(known, 's3cret')).toBe('alice');
    expect(lookupToken(known, 'other-token')).toBe('bob');
    for (const wrong of ['s3cre', 's3cret-and-more', '', 'S3CRET']) expect(lookupToken(known, wrong)).toBeUndefined();
    for (const odd of [undefined, null, 42, { token: 's3cret' }, ['s3cret'], Buffer.from('s3cret')]) expect(lookupToken(known, odd)).toBeUndefined();
  });

  it('serve --tokens authenticates through it', () => {
    const auth = tokenAuthenticator(parseTokens('tok-a alice\ntok-b bob\n'));
    expect(auth({ token: 'tok-b' })).toEqual({ id: 'bob' });
    expect(auth({ token: 'tok-c' })).toBe(false);
    expect(auth('tok-a')).toBe(false);
  });
});
