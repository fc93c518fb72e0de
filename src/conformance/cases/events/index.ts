/** §12 The event-stream profile's cases, in report order (helpers in support.ts). */

import type { Case } from '../helpers.ts';
import { cases as cluster } from './cluster.ts';
import { cases as resume } from './resume.ts';
import { cases as subscribe } from './subscribe.ts';

export const cases: readonly Case[] = [...subscribe, ...resume, ...cluster];
