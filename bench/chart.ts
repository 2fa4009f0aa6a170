// `npm run chart` (and after every `npm run bench`): redraws docs/bench-chart.svg from the benchmark's result files.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { panelFromReport, renderChart, type BenchReport } from './chart-svg.js';

// Compiled to dist/bench/chart.js; paths are the repository's, whatever the working directory.
const REPO = fileURLToPath(new URL('../../', import.meta.url));

const args = await yargs(hideBin(process.argv))
  .usage('$0 [result.json …]\n\nWithout files: the newest result of the default `npm run bench` and the newest `--label variants` result.')
  .option('results', { type: 'string', default: join(REPO, 'bench/results'), describe: 'where to look for result files' })
  .option('out', { type: 'string', default: join(REPO, 'docs/bench-chart.svg'), describe: 'the SVG to write' })
  .strict()
  .parseAsync();

function readReport(file: string): BenchReport | undefined {
  const report = JSON.parse(readFileSync(file, 'utf8')) as Partial<BenchReport>;
  // Memory-mode files have no per-tool summary; they are not this chart's.
  return Array.isArray(report.summary) && typeof report.date === 'string' ? report as BenchReport : undefined;
}

/** The newest compare-mode report among the files whose names match `pattern`, by the date recorded inside. */
function newest(files: string[], pattern: RegExp): string | undefined {
  return files
    .filter((file) => pattern.test(file))
    .map((file) => ({ file, report: readReport(join(args.results, file)) }))
    .filter((entry) => entry.report !== undefined)
    .sort((a, b) => (a.report?.date ?? '').localeCompare(b.report?.date ?? ''))
    .at(-1)?.file;
}

function defaultFiles(): string[] {
  const files = readdirSync(args.results).filter((file) => file.endsWith('.json'));
  // `<date>-scale<N>.json` is a run without --label, i.e. the default tool set.
  const picked = [newest(files, /^\d{4}-\d{2}-\d{2}-scale[\d.]+\.json$/), newest(files, /-variants\.json$/)];
  return picked.filter((file): file is string => file !== undefined).map((file) => join(args.results, file));
}

const files = args._.length > 0 ? args._.map((file) => resolve(String(file))) : defaultFiles();
if (files.length === 0) throw new Error(`no benchmark result files in ${args.results}; run npm run bench first`);
const panels = files.map((file) => {
  const report = readReport(file);
  if (!report) throw new Error(`${file} is not a compare-mode result of npm run bench (no per-tool summary)`);
  return panelFromReport(relative(REPO, file), report);
});
writeFileSync(args.out, renderChart('Where the time of one sync goes, per tool (npm run bench)', panels));
console.log(`${relative(REPO, args.out)} drawn from ${panels.map((panel) => panel.file).join(', ')}`);
