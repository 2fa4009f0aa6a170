// The two live lines on a terminal: the whole run in percent with an ETA, and the current step in its own unit.

import type { ProgressFields } from '../index.js';

const fmt = new Intl.NumberFormat('en-US');

/**
 * A duration for people: `45s`, `3m 05s`, `1h 02m`. Anything that is not a finite, non-negative number (an ETA
 * not known yet) is `–`, so no NaN, Infinity, null or undefined ever reaches the screen.
 */
export function formatDuration(seconds: number | undefined | null): string {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds) || seconds < 0) return '–';
  const total = Math.round(seconds);
  if (total < 60) return `${total}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (total < 3600) return `${Math.floor(total / 60)}m ${pad(total % 60)}s`;
  const hours = Math.floor(total / 3600);
  return hours >= 100 ? `${hours}h` : `${hours}h ${pad(Math.floor((total % 3600) / 60))}m`;
}

/** A count with thousands separators; 0 for anything that is not a finite number. */
function count(n: number): string {
  return fmt.format(Number.isFinite(n) ? Math.max(0, Math.round(n)) : 0);
}

const BAR_WIDTH = 20;

function bar(fraction: number | undefined, color: boolean): string {
  const f = fraction !== undefined && Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const full = Math.round(f * BAR_WIDTH);
  const text = `${'█'.repeat(full)}${'░'.repeat(BAR_WIDTH - full)}`;
  return color ? `\u001b[36m${text}\u001b[0m` : text;
}

/**
 * The first live line: the whole run in percent of its estimated cost, never a row count (a run is more than
 * its rows: index builds are most of a large one).
 */
export function overallLine(fields: ProgressFields, elapsedSeconds: number, color: boolean): string {
  const percent = Number.isFinite(fields.percent) ? Math.min(100, Math.max(0, Math.floor(fields.percent))) : 0;
  const eta = percent >= 100 ? 'done' : `ETA ${formatDuration(fields.etaSeconds)}`;
  return `${'overall'.padEnd(8)} ${bar(percent / 100, color)} ${String(percent).padStart(3)}% | elapsed ${formatDuration(elapsedSeconds)} | ${eta}`;
}

function indexCounters(build: NonNullable<ProgressFields['build']>): string {
  const parts: string[] = [];
  if (build.blocksTotal > 0) parts.push(`${count(build.blocksDone)}/${count(build.blocksTotal)} blocks`);
  if (build.tuplesTotal > 0) parts.push(`${count(build.tuplesDone)}/${count(build.tuplesTotal)} tuples`);
  else if (build.tuplesDone > 0) parts.push(`${count(build.tuplesDone)} tuples`);
  return parts.join(', ');
}

/**
 * The second live line: the current step in its own unit. Rows for copying and comparing a table; for an
 * index build, the server's phase and the blocks or tuples it reports (an index has no rows to count). Names
 * go last: on a narrow terminal it is they that get cut, not the counters.
 */
export function stepLine(fields: ProgressFields, color: boolean, lastIndex?: string): string {
  const { build } = fields;
  if (fields.phase === 'indexing' && build) {
    const counters = indexCounters(build);
    return `${'index'.padEnd(8)} ${bar(build.percent === undefined ? undefined : build.percent / 100, color)} `
      + `${build.method ? `${build.method} ` : ''}${build.phase}${counters ? `: ${counters}` : ''} | ${formatDuration(build.seconds)} | `
      + `${build.position}/${build.count} ${build.index}`;
  }
  if (fields.phase === 'indexing') {
    const total = Math.max(fields.totalIndexes, fields.indexesBuilt);
    return `${'index'.padEnd(8)} ${bar(total > 0 ? fields.indexesBuilt / total : undefined, color)} `
      + `${count(fields.indexesBuilt)}/${count(total)} indexes built${lastIndex ? ` | last ${lastIndex}` : ''}`;
  }
  if ((fields.phase === 'copy' || fields.phase === 'verification' || fields.phase === 'compare') && fields.table) {
    const verb = fields.phase === 'copy' ? 'copy' : fields.phase === 'compare' ? 'diff' : 'compare';
    return `${verb.padEnd(8)} ${bar(fields.tableTotal > 0 ? fields.tableRows / fields.tableTotal : undefined, color)} `
      + `${count(fields.tableRows)}/${count(fields.tableTotal)} rows | ${count(fields.rowsPerSecond)} rows/s | ${fields.table}`;
  }
  switch (fields.phase) {
    case 'validation': return `${'validate'.padEnd(8)} reading both catalogs, locking the target tables`;
    case 'compare': return `${'diff'.padEnd(8)} comparing per-row digests`;
    case 'copy': return `${'copy'.padEnd(8)} preparing the target tables`;
    case 'verification': return fields.percent >= 100 ? `${'done'.padEnd(8)} committed` : `${'verify'.padEnd(8)} counting rows on the target`;
  }
}
