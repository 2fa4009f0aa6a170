// A randomized run of what the deletion guard and the target-edit detection trust: edits on both sides (an
// insert, update and delete in every table; a few rows; large shares of a table deleted), syncs both ways in
// every mode with history on (so watermarks), and undo of the last committed run. After every run: a sync that
// exits 0 leaves the target equal to the source; a refused one leaves it unchanged and is the refusal its preview
// showed (and a preview that shows a refusal is followed by one); an undo restores the exact fingerprint the
// target had before the run. ARCHON_SYNC_RANDOM_SEED and ARCHON_SYNC_RANDOM_STEPS run another or a longer sequence.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ARCHON_TABLES, isArchonSyncError, plan, sync, undo, type SyncMode, type SyncResult } from '../../src/index.js';
import { fingerprintDatabase, ownerSql } from '../support/fixtures.js';
import { drawWeighted, mulberry32, pickWith, randomRun } from '../support/random.js';
import { testServers, type TestServers } from '../support/servers.js';
import { assertEqual, editEveryTable, OTHER, type Name, side, type Side } from '../support/sides.js';
import { TEST_HOME } from '../support/state-home.js';

const { seed: SEED, steps: STEPS } = randomRun({ seed: 25, steps: 24 });

let servers: TestServers;
before(async () => { servers = await testServers(); });
after(async () => { await servers?.close(); });

/** Tables a large share of whose rows a step deletes (children of nothing the 17 copy, or cascading inside them). */
const SHRINKABLE = ['archon_crawled_pages', 'archon_code_examples', 'archon_settings', 'archon_prompts', 'archon_task_history'] as const;

function isResult(value: unknown): value is SyncResult {
  return typeof value === 'object' && value !== null && 'tables' in value && 'backup' in value;
}

type Fingerprint = Awaited<ReturnType<typeof fingerprintDatabase>>;

class World {
  /** Per side, the last committed run into it while nothing has changed it since: what undo may put back. */
  readonly undoable: Partial<Record<Name, { syncId: string; before: Fingerprint }>> = {};
  readonly dir = mkdtempSync(join(TEST_HOME, 'random-backups-'));
  counts = { equal: 0, guard: 0, edits: 0, editsOverwritten: 0, undone: 0, untold: 0 };
  lastFrom: Name = 'a';

  constructor(readonly sides: Record<Name, Side>, readonly random: () => number, readonly log: string[]) {}

  pick<T>(items: readonly T[]): T {
    return pickWith(this.random, items);
  }

  async print(name: Name): Promise<Fingerprint> {
    const s = this.sides[name];
    return fingerprintDatabase(s.server, s.database, ARCHON_TABLES);
  }

  async sql(name: Name, text: string): Promise<void> {
    this.log.push(`  ${name}: ${text.replace(/\s+/g, ' ').slice(0, 160)}`);
    delete this.undoable[name];
    const s = this.sides[name];
    await ownerSql(s.server, s.database, text);
  }

  async sync(from: Name, mode: SyncMode): Promise<void> {
    const to = OTHER[from];
    this.lastFrom = from;
    const targetChanges = this.random() < 0.3 ? 'overwrite' as const : 'refuse' as const;
    const maxDeleteShare = this.random() < 0.2 ? 1 : 0.5;
    this.log.push(`  sync ${from} → ${to} (${mode}, targetChanges ${targetChanges}, maxDeleteShare ${maxDeleteShare})`);
    const options = {
      source: this.sides[from].uri, target: this.sides[to].uri, maxDeleteShare, targetChanges, backup: { dir: this.dir },
      history: { direction: from === 'a' ? 'local-to-remote' as const : 'remote-to-local' as const, sourceDb: from, targetDb: to, triggeredBy: 'random' },
    };
    const previewed = await plan({ ...options, preview: mode });
    const preview = previewed.preview;
    assert.ok(preview);
    const edits = preview.targetEdits.inserted + preview.targetEdits.updated + preview.targetEdits.deleted;
    const expected = preview.guard.refused.length > 0 ? 'delete-guard' : edits > 0 && targetChanges === 'refuse' ? 'target-edits' : undefined;
    if (preview.targetEdits.untold.length > 0) this.counts.untold += 1;
    const before = await this.print(to);
    const outcome: unknown = await sync({ ...options, mode }).then((result) => result, (error: unknown) => error);
    if (expected) {
      assert.ok(isArchonSyncError(outcome) && outcome.failure === expected, `the preview said ${expected}, the sync: ${String(outcome)}`);
      if (expected === 'delete-guard') assert.deepEqual(outcome.details?.refused, preview.guard.refused);
      else assert.match(outcome.message, new RegExp(preview.targetEdits.tables[0]?.table ?? '^$'));
      assert.deepEqual(await this.print(to), before, 'a refused run changed the target');
      this.counts[expected === 'delete-guard' ? 'guard' : 'edits'] += 1;
      this.log.push(`    refused: ${expected}`);
      return;
    }
    if (isArchonSyncError(outcome) || !isResult(outcome)) throw outcome;
    await assertEqual(this.sides[from], this.sides[to]);
    this.counts.equal += 1;
    if (edits > 0) this.counts.editsOverwritten += 1;
    assert.deepEqual(outcome.targetEdits, preview.targetEdits, 'the sync overwrote what the preview showed');
    if (outcome.backup.kept && outcome.syncId) this.undoable[to] = { syncId: outcome.syncId, before };
    else delete this.undoable[to];
    this.log.push(`    committed ${outcome.syncId ?? ''}${edits > 0 ? `, overwriting ${edits} edits` : ''}`);
  }

  async undoLast(name: Name): Promise<void> {
    const last = this.undoable[name];
    if (!last) return;
    this.log.push(`  undo ${last.syncId} on ${name}`);
    await undo({ target: this.sides[name].uri, syncId: last.syncId, backupDir: this.dir });
    assert.deepEqual(await this.print(name), last.before, `undo of ${last.syncId} did not restore the fingerprint`);
    delete this.undoable[name];
    this.counts.undone += 1;
  }

  async step(n: number): Promise<void> {
    const name = this.pick(['a', 'b'] as const);
    const actions: [number, () => Promise<void>][] = [
      [5, () => this.sync(this.random() < 0.7 ? this.lastFrom : OTHER[this.lastFrom], this.pick(['auto', 'auto', 'incremental', 'full'] as const))],
      [2, async () => {
        this.log.push(`  ${name}: an insert, an update and a delete in every table`);
        delete this.undoable[name];
        await editEveryTable(this.sides[name], `-${n}`);
      }],
      [2, () => this.sql(name, `UPDATE archon_settings SET value = 'edited ${n}' WHERE key = (SELECT key FROM archon_settings ORDER BY md5(key || '${n}') LIMIT 1);
        INSERT INTO archon_settings (key, value) VALUES ('random-${name}-${n}', 'new')`)],
      [1.5, () => {
        const table = this.pick(SHRINKABLE);
        const share = this.pick([0.3, 0.6, 0.9, 1]);
        return this.sql(name, `DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} ORDER BY md5(ctid::text || '${n}') LIMIT (SELECT ceil(count(*) * ${share}) FROM ${table}))`);
      }],
      [1.5, () => this.undoLast(name)],
    ];
    const action = drawWeighted(this.random, actions);
    this.log.push(`step ${n}`);
    await action?.();
  }
}

test(`guard and target-edit refusals are what the preview said, exit-0 runs end equal, undo restores the fingerprint (seed ${SEED}, ${STEPS} steps)`, async (t) => {
  const [a, b] = await Promise.all([side(servers.source, 501, 'ra'), side(servers.target, 502, 'rb')]);
  const log: string[] = [];
  const world = new World({ a, b }, mulberry32(SEED), log);
  try {
    // A first copy so that watermarks exist from the start.
    await sync({ source: a.uri, target: b.uri, maxDeleteShare: 1, targetChanges: 'overwrite', backup: false,
      history: { direction: 'local-to-remote', sourceDb: 'a', targetDb: 'b', triggeredBy: 'random' } });
    for (let i = 0; i < STEPS; i += 1) await world.step(i);
  } catch (error) {
    throw new Error(`seed ${SEED} (ARCHON_SYNC_RANDOM_SEED=${SEED} ARCHON_SYNC_RANDOM_STEPS=${STEPS}) failed:\n${log.slice(-40).join('\n')}`, { cause: error });
  }
  t.diagnostic(`seed ${SEED}, ${STEPS} steps: ${JSON.stringify(world.counts)}`);
  assert.ok(world.counts.equal >= 1);
});
