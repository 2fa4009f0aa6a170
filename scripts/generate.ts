// Command that fills an Archon database (schema already applied, tables empty) with the deterministic test data.

import pg from 'pg';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { generateArchonData } from '../schema/generate.js';

const args = await yargs(hideBin(process.argv))
  .usage('$0 --url <postgres url> [--scale N] [--seed N]')
  .option('url', { type: 'string', demandOption: true, describe: 'database to fill; its 17 Archon tables must exist and be empty' })
  .option('scale', { type: 'number', default: 1, describe: '1 ≈ 50,000 archon_crawled_pages rows; other tables in proportion' })
  .option('seed', { type: 'number', default: 1, describe: 'the same seed and scale always give identical data' })
  .check((argv) => {
    if (!Number.isFinite(argv.scale) || argv.scale < 0) throw new Error('--scale must be a non-negative number');
    if (!Number.isFinite(argv.seed)) throw new Error('--seed must be a number');
    return true;
  })
  .strict()
  .parseAsync();

const client = new pg.Client({ connectionString: args.url, application_name: 'archon-sync-generate' });
await client.connect();
try {
  const started = performance.now();
  let tableStarted = started;
  await generateArchonData(client, {
    seed: args.seed,
    scale: args.scale,
    onTable: (table, rows) => {
      const now = performance.now();
      console.log(`${table.padEnd(32)} ${String(rows).padStart(9)} rows  ${((now - tableStarted) / 1000).toFixed(2).padStart(7)} s`);
      tableStarted = now;
    },
  });
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await client.end();
}
