// The benchmark chart: one bar per tool, stacked by phase, every segment as long as its seconds.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { panelFromReport, renderChart, type BenchReport } from '../../bench/chart-svg.js';

const FIXTURE = 'test/fixtures/bench-result.json';
const report = JSON.parse(readFileSync(resolve(FIXTURE), 'utf8')) as BenchReport;
const svg = renderChart('fixture', [panelFromReport(FIXTURE, report)]);

interface DrawnSegment { kind: string; seconds: number; x: number; width: number }

/** The bars as drawn: each `<g class="bar">` and its segment rectangles, in document order. */
function drawnBars(source: string): { tool: string; segments: DrawnSegment[] }[] {
  return [...source.matchAll(/<g class="bar" data-tool="([^"]+)">([\s\S]*?)<\/g>/g)].map(([, tool, inner]) => ({
    tool: tool ?? '',
    segments: [...(inner ?? '').matchAll(/<rect class="segment" data-kind="(\w+)" data-seconds="([\d.]+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)]
      .map(([, kind, seconds, x, width]) => ({ kind: kind ?? '', seconds: Number(seconds), x: Number(x), width: Number(width) })),
  }));
}

const bars = drawnBars(svg);
const lengthOf = (tool: string) => bars.find((bar) => bar.tool === tool)?.segments.reduce((sum, s) => sum + s.width, 0) ?? NaN;

test('draws one bar per tool of the result file, in its order', () => {
  assert.deepEqual(bars.map((bar) => bar.tool), report.summary.map((row) => row.tool));
});

test('every segment is as wide as its seconds on one common scale', () => {
  const segments = bars.flatMap((bar) => bar.segments.map((s) => ({ ...s, tool: bar.tool })));
  assert.equal(segments.length, 11);
  const pixelsPerSecond = lengthOf('pg_dump') / 180;
  // Widths are written with two decimals, so each may be off by half a hundredth of a pixel.
  for (const s of segments) {
    assert.ok(Math.abs(s.width - s.seconds * pixelsPerSecond) <= 0.006, `${s.tool} ${s.kind}: ${s.width} px for ${s.seconds} s at ${pixelsPerSecond} px/s`);
  }
  assert.ok(Math.abs(lengthOf('pg_dump') / lengthOf('baseline') - 3) < 0.001, 'pg_dump (180 s) is not three times baseline (60 s)');
});

test('stacks copy, index and verification from the same origin, and the rest of the median after them', () => {
  const origins = new Set(bars.map((bar) => bar.segments[0]?.x));
  assert.equal(origins.size, 1, 'bars start at different x');
  for (const bar of bars) {
    bar.segments.forEach((segment, i) => {
      const previous = bar.segments[i - 1];
      if (previous) assert.ok(Math.abs(previous.x + previous.width - segment.x) < 0.02, `${bar.tool}: ${segment.kind} does not follow ${previous.kind}`);
    });
  }
  const archonSync = bars.find((bar) => bar.tool === 'archon-sync');
  assert.deepEqual(archonSync?.segments.map((s) => [s.kind, s.seconds]), [['copy', 20], ['index', 40], ['verify', 0.5], ['other', 1.5]]);
  assert.deepEqual(bars.find((bar) => bar.tool === 'baseline')?.segments.map((s) => s.kind), ['copy', 'index']);
});

test('a tool without a phase log is one undivided bar of its median', () => {
  assert.deepEqual(bars.find((bar) => bar.tool === 'pg_dump')?.segments.map((s) => [s.kind, s.seconds]), [['total', 180]]);
});

test('names the result file, its date, scale and runs, and labels the axis in seconds', () => {
  for (const text of [FIXTURE, '2026-01-02 03:04 UTC', 'scale 0.1, 56 MB', '3 runs of archon-sync and baseline, 1 of the others', '2 CPUs, Example CPU', 'seconds']) {
    assert.ok(svg.includes(text), `the chart lacks "${text}"`);
  }
  assert.match(svg, /<text[^>]*>180\.0 s<\/text>/);
});
