// Measures what the progress cost model needs: copy seconds per source MB and each index build's seconds, by method.
// Run: npm run build && node dist/bench/index-weights.js [scale…]   (throwaway clusters; prints a table per scale)

import { sync, type SyncEvent, type SyncPlan } from '../src/index.js';
import { generateArchonData } from '../schema/generate.js';
import { startCluster, OWNER_ROLE, TEMPLATE_DATABASE, type Cluster } from '../test/support/cluster.js';

interface IndexTiming { table: string; index: string; method: string; opclass: string; seconds: number }

async function database(cluster: Cluster, name: string): Promise<void> {
  await cluster.admin('postgres', (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE} OWNER ${OWNER_ROLE}`));
}

async function measure(scale: number): Promise<void> {
  const [source, target] = await Promise.all([startCluster('weights-source'), startCluster('weights-target')]);
  try {
    await Promise.all([database(source, 'archon'), database(target, 'archon')]);
    await source.admin('archon', async (c) => {
      await c.query(`SET ROLE ${OWNER_ROLE}`);
      await generateArchonData(c, { seed: 7, scale });
      await c.query('RESET ROLE');
      await c.query('VACUUM ANALYZE');
    });
    const sizes = await source.admin('archon', async (c) => new Map((await c.query<{ t: string; bytes: string; rows: string }>(
      `SELECT relname AS t, pg_table_size(oid) AS bytes, reltuples::bigint AS rows FROM pg_class
        WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND relname LIKE 'archon_%'`)).rows.map((r) => [r.t, { bytes: Number(r.bytes), rows: Number(r.rows) }])));
    let plan: SyncPlan | undefined;
    const copies = new Map<string, number>();
    const indexes: IndexTiming[] = [];
    const result = await sync({
      source: source.uri('archon'), target: target.uri('archon'),
      onEvent: (e: SyncEvent) => {
        if (e.type === 'plan') plan = e.plan;
        if (e.type === 'table-end' && e.phase === 'copy' && e.table) copies.set(e.table, e.seconds);
        if (e.type === 'index' && e.table) {
          const info = plan?.tables.find((t) => t.name === e.table)?.indexes.find((i) => i.name === e.index);
          indexes.push({ table: e.table, index: e.index, method: info?.method ?? '?', opclass: /\b(\w+_ops)\b/.exec(info?.definition ?? '')?.[1] ?? '', seconds: e.seconds });
        }
      },
    });
    const mb = (table: string) => (sizes.get(table)?.bytes ?? 0) / 1048576;
    const copyMb = [...copies.keys()].reduce((s, t) => s + mb(t), 0);
    const copySeconds = [...copies.values()].reduce((s, x) => s + x, 0);
    const copyRate = copySeconds / copyMb;
    console.log(`\nscale ${scale}: sync ${result.durations.total.toFixed(1)} s; copy ${copySeconds.toFixed(2)} s for ${copyMb.toFixed(1)} MB of source tables = ${(copyRate * 1000).toFixed(1)} ms/MB; indexing ${result.durations.indexing.toFixed(2)} s`);
    console.log('table                          method   opclass              seconds  table MB  rows      build s / copy s of its table');
    for (const i of indexes.sort((a, b) => b.seconds - a.seconds).slice(0, 25)) {
      const tableCopy = mb(i.table) * copyRate;
      console.log(`${i.table.padEnd(30)} ${i.method.padEnd(8)} ${i.opclass.padEnd(20)} ${i.seconds.toFixed(3).padStart(7)}  ${mb(i.table).toFixed(1).padStart(8)}  ${String(sizes.get(i.table)?.rows ?? 0).padEnd(8)}  ${(i.seconds / tableCopy).toFixed(3)}`);
    }
    const byKind = new Map<string, { seconds: number; copy: number; n: number }>();
    for (const i of indexes) {
      const kind = i.opclass === 'gin_trgm_ops' ? 'gin (trigram)' : i.method;
      const entry = byKind.get(kind) ?? { seconds: 0, copy: 0, n: 0 };
      entry.seconds += i.seconds;
      entry.copy += mb(i.table) * copyRate;
      entry.n += 1;
      byKind.set(kind, entry);
    }
    console.log('kind            builds  build s / copy s of their tables (sum over sum)');
    for (const [kind, e] of byKind) console.log(`${kind.padEnd(15)} ${String(e.n).padStart(6)}  ${(e.seconds / e.copy).toFixed(3)}`);
  } finally {
    source.destroySync();
    target.destroySync();
  }
}

const scales = process.argv.slice(2).map(Number);
for (const scale of scales.length > 0 ? scales : [0.2]) await measure(scale);
