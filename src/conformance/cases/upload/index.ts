/** §11 The upload profile (spec/UPLOAD.md, FW-UP-*), in the order of its sections. */

import { cases as cluster } from './cluster.ts';
import { cases as data } from './data.ts';
import { cases as listing } from './listing.ts';
import { cases as operations } from './operations.ts';
import { cases as order } from './order.ts';
import type { Case } from '../helpers.ts';

export const cases: Case[] = [...operations, ...listing, ...data, ...order, ...cluster];
