// The sync engine against two directly connected throwaway clusters.
import { defineSyncSuite } from './sync-suite.js';

defineSyncSuite({ targetThroughPgBouncer: false });
