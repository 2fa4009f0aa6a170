// Fills a database that already has the Archon schema with deterministic data: `npm run generate -- --url … --scale N`.

import pg from 'pg';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { generateArchonData } from '../schema/generate.js';

const args = await yargs(hideBin(process.argv))
  .option('url', { type: 'string', demandOption: true, describe: 'postgresql:// URI of the database to fill (tables must exist and be empty)' })
  .option('scale', { type: 'number', default: 1, describe: '1 ≈ 50,000 archon_crawled_pages rows' })
  .option('seed', { type: 'number', default: 1, describe: 'same seed and scale → identical data' })
  .strict()
  .parseAsync();

const client = new pg.Client({ connectionString: args.url });
await client.connect();
try {
  const started = Date.now();
  await generateArchonData(client, {
    seed: args.seed,
    scale: args.scale,
    onTable: (table, rows) => console.log(`${table.padEnd(32)} ${rows}`),
  });
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await client.end();
}
