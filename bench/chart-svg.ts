// Draws benchmark results as an SVG of horizontal bars, one per tool, stacked by phase (copy, index, verify).
// Hand-written SVG: the chart is a few rectangles and labels, not worth a plotting dependency.

/** The part of a `bench/results/*.json` report (compare mode) that the chart reads. */
export interface BenchReport {
  date: string;
  scale: number;
  runs: number;
  otherRuns: number;
  sourceBytes: number;
  machine?: { cpus?: number; cpu?: string | undefined };
  summary: BenchSummaryRow[];
  /** Every timed run; the chart only counts them per tool. */
  results?: { tool: string }[];
}

export interface BenchSummaryRow {
  tool: string;
  medianSeconds: number;
  medianCopySeconds?: number | undefined;
  medianIndexSeconds?: number | undefined;
  medianVerifySeconds?: number | undefined;
}

export type SegmentKind = 'copy' | 'index' | 'verify' | 'other' | 'total';

export interface BarSegment {
  kind: SegmentKind;
  seconds: number;
}

export interface Bar {
  tool: string;
  /** The median wall time printed at the end of the bar. */
  medianSeconds: number;
  segments: BarSegment[];
}

/** One result file: a heading and its bars, drawn on the same seconds axis as the other panels. */
export interface ChartPanel {
  file: string;
  heading: string;
  bars: Bar[];
}

const LEGEND: { kind: SegmentKind; label: string; color: string }[] = [
  { kind: 'copy', label: 'copy', color: '#0072B2' },
  { kind: 'index', label: 'index rebuild', color: '#E69F00' },
  { kind: 'verify', label: 'verification', color: '#009E73' },
  { kind: 'other', label: 'the rest (validation, commit, start-up)', color: '#C8C8C8' },
  { kind: 'total', label: 'not split (no phase log)', color: '#8C8C8C' },
];
const COLOR = Object.fromEntries(LEGEND.map((entry) => [entry.kind, entry.color])) as Record<SegmentKind, string>;

/**
 * A tool's median run split by phase. The phase medians come from the JSON log and need not add up to the median
 * wall time; what they leave over is "the rest". pg_dump and the quiet variant write no phase log: one grey bar.
 */
export function barFromSummary(row: BenchSummaryRow): Bar {
  const phases: BarSegment[] = [];
  if (row.medianCopySeconds !== undefined) phases.push({ kind: 'copy', seconds: row.medianCopySeconds });
  if (row.medianIndexSeconds !== undefined) phases.push({ kind: 'index', seconds: row.medianIndexSeconds });
  if (row.medianVerifySeconds !== undefined) phases.push({ kind: 'verify', seconds: row.medianVerifySeconds });
  if (phases.length === 0) return { tool: row.tool, medianSeconds: row.medianSeconds, segments: [{ kind: 'total', seconds: row.medianSeconds }] };
  const rest = row.medianSeconds - phases.reduce((sum, phase) => sum + phase.seconds, 0);
  if (rest > 0) phases.push({ kind: 'other', seconds: rest });
  return { tool: row.tool, medianSeconds: row.medianSeconds, segments: phases };
}

/** "3 runs of archon-sync, 1 of the others": how many runs each median is taken over. */
function describeRuns(report: BenchReport): string {
  const count = (tool: string) => report.results?.filter((run) => run.tool === tool).length
    ?? (['archon-sync', 'baseline'].includes(tool) ? report.runs : report.otherRuns);
  const groups = new Map<number, string[]>();
  for (const row of report.summary) groups.set(count(row.tool), [...(groups.get(count(row.tool)) ?? []), row.tool]);
  const [first, ...rest] = [...groups.entries()].sort((a, b) => b[0] - a[0]);
  const runs = (n: number) => `${n} run${n === 1 ? '' : 's'}`;
  if (!first) return 'no runs';
  if (rest.length === 0) return `${runs(first[0])} each`;
  return [`${runs(first[0])} of ${first[1].join(' and ')}`, ...rest.map(([n]) => `${n} of the others`)].join(', ');
}

export function panelFromReport(file: string, report: BenchReport): ChartPanel {
  const when = `${report.date.slice(0, 10)} ${report.date.slice(11, 16)} UTC`;
  const megabytes = Math.round(report.sourceBytes / 1048576);
  const cpu = report.machine?.cpu?.replace(/\((R|TM)\)/g, '').replace(/\s+/g, ' ').trim();
  const machine = cpu ? ` · ${report.machine?.cpus ?? '?'} CPUs, ${cpu}` : '';
  return {
    file,
    heading: `${when} · scale ${report.scale}, ${megabytes.toLocaleString('en-US')} MB · ${describeRuns(report)}${machine}`,
    bars: report.summary.map(barFromSummary),
  };
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** A tick step of 1, 2 or 5 × 10^n that puts about `ticks` gridlines under `max`. */
function tickStep(max: number, ticks = 10): number {
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw);
  return step ?? 10 * power;
}

const WIDTH = 980;
const FONT = "font-family=\"'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif\"";
const LABEL_WIDTH = 190;
const PLOT_LEFT = 24 + LABEL_WIDTH;
const PLOT_WIDTH = WIDTH - PLOT_LEFT - 90;
const BAR_HEIGHT = 24;
const BAR_GAP = 10;

export function renderChart(title: string, panels: ChartPanel[]): string {
  const longest = Math.max(...panels.flatMap((panel) => panel.bars.map((bar) =>
    Math.max(bar.medianSeconds, bar.segments.reduce((sum, segment) => sum + segment.seconds, 0)))), 1);
  const step = tickStep(longest);
  const axisMax = Math.ceil(longest / step) * step;
  const pixelsPerSecond = PLOT_WIDTH / axisMax;
  const x = (seconds: number) => PLOT_LEFT + seconds * pixelsPerSecond;

  const body: string[] = [];
  let y = 104;
  for (const panel of panels) {
    body.push(`<text x="24" y="${y}" font-size="15" font-weight="bold" fill="#222">${escapeXml(panel.file)}</text>`);
    body.push(`<text x="24" y="${y + 19}" font-size="13" fill="#555">${escapeXml(panel.heading)}</text>`);
    y += 34;
    for (const bar of panel.bars) {
      body.push(`<g class="bar" data-tool="${escapeXml(bar.tool)}">`);
      body.push(`<text x="${PLOT_LEFT - 10}" y="${y + BAR_HEIGHT / 2 + 5}" font-size="14" text-anchor="end" fill="#222">${escapeXml(bar.tool)}</text>`);
      let start = 0;
      for (const segment of bar.segments) {
        const width = segment.seconds * pixelsPerSecond;
        body.push(`<rect class="segment" data-kind="${segment.kind}" data-seconds="${segment.seconds}" x="${x(start).toFixed(2)}" y="${y}" width="${width.toFixed(2)}" height="${BAR_HEIGHT}" fill="${COLOR[segment.kind]}"><title>${escapeXml(`${bar.tool}: ${segment.kind} ${segment.seconds.toFixed(2)} s`)}</title></rect>`);
        // Inside the segment only where the number fits; the total at the end of the bar always shows.
        const label = segment.seconds.toFixed(1);
        if (width >= label.length * 7.5 + 8 && segment.kind !== 'total') {
          const fill = segment.kind === 'other' ? '#222' : '#fff';
          body.push(`<text x="${(x(start) + width / 2).toFixed(2)}" y="${y + BAR_HEIGHT / 2 + 5}" font-size="12.5" text-anchor="middle" fill="${fill}">${label}</text>`);
        }
        start += segment.seconds;
      }
      body.push(`<text x="${(x(Math.max(start, bar.medianSeconds)) + 8).toFixed(2)}" y="${y + BAR_HEIGHT / 2 + 5}" font-size="14" font-weight="bold" fill="#222">${bar.medianSeconds.toFixed(1)} s</text>`);
      body.push('</g>');
      y += BAR_HEIGHT + BAR_GAP;
    }
    y += 22;
  }

  const plotTop = 92;
  const plotBottom = y - 16;
  const grid: string[] = [];
  for (let tick = 0; tick <= axisMax + step / 1000; tick += step) {
    const tx = x(tick).toFixed(2);
    grid.push(`<line x1="${tx}" y1="${plotTop}" x2="${tx}" y2="${plotBottom}" stroke="${tick === 0 ? '#888' : '#e4e4e4'}" stroke-width="1"/>`);
    grid.push(`<text x="${tx}" y="${plotBottom + 18}" font-size="13" text-anchor="middle" fill="#444">${Number(tick.toFixed(6))}</text>`);
  }
  grid.push(`<text x="${PLOT_LEFT + PLOT_WIDTH / 2}" y="${plotBottom + 40}" font-size="14" text-anchor="middle" fill="#222">seconds (median wall time of a sync into an emptied target)</text>`);

  const legend: string[] = [];
  let lx = 24;
  for (const entry of LEGEND) {
    legend.push(`<rect x="${lx}" y="56" width="14" height="14" fill="${entry.color}"/>`);
    legend.push(`<text x="${lx + 20}" y="68" font-size="13" fill="#222">${escapeXml(entry.label)}</text>`);
    lx += 20 + entry.label.length * 7 + 24;
  }

  const height = plotBottom + 56;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT}>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="24" y="32" font-size="19" font-weight="bold" fill="#111">${escapeXml(title)}</text>`,
    ...legend,
    ...grid,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
