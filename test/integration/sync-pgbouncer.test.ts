// The same suite with the target behind PgBouncer in transaction mode, like Supabase's pooler on port 6543.
import { defineSyncSuite } from './sync-suite.js';

defineSyncSuite({ targetThroughPgBouncer: true });
