// Options compiled once: every default applied and every value checked here, so each step reads one resolved object.

import { LIBRARY_WORDING, optionNamed, phrase, type AdvisedOption, type Phrase, type Wording } from '../advice.js';
import { ConfigurationError } from '../errors.js';
import { describeEndpoint, type Endpoint } from '../pg/uri.js';
import { resolve } from 'node:path';
import type { ConfirmHook, HistoryOptions, SyncEventListener, SyncMode, SyncOptions, UndoOptions } from '../types.js';
import { defaultBackupDir, type BackupOptions, type CompiledBackup } from './backup/options.js';
import { DEFAULTS } from './defaults.js';
import { ARCHON_TABLES, HISTORY_TABLE } from './tables.js';

/** Everything a run (sync, plan, verify) reads, with defaults applied and values checked. */
export interface ResolvedOptions {
  source: string;
  target: string;
  /** Both URIs, parsed once (a bad one fails before anything is contacted). */
  sourceEndpoint: Endpoint;
  targetEndpoint: Endpoint;
  tables: readonly string[];
  schema: string;
  connectTimeoutMs: number;
  lockTimeoutMs: number;
  /** 0: never. */
  stallTimeoutMs: number;
  /** 0: never. */
  commitTimeoutMs: number;
  maintenanceWorkMem: string;
  maxParallelMaintenanceWorkers: number;
  sampleLimit: number;
  mode: SyncMode;
  fullCopyShare: number;
  triggerSuppression: 'auto' | 'disable-triggers';
  verify: 'count' | 'checksum';
  history: HistoryOptions | false;
  /** verify(): go by the last sync's watermark. */
  watermark: boolean;
  signal: AbortSignal | undefined;
  onEvent: SyncEventListener;
  confirm: ConfirmHook | undefined;
  wording: Wording;
  /** Where and how much of the old rows to keep for undo, or off. */
  backup: CompiledBackup;
  /** The deletion guard: the largest share of a table's target rows a run may delete (1: no limit). */
  maxDeleteShare: number;
  /**
   * The target's own edits since the last committed run: `ask` (the confirm hook is shown them and decides; the
   * default with a hook), `refuse` (the default without one) or `overwrite`.
   */
  targetChanges: 'ask' | 'refuse' | 'overwrite';
}

/** Whatever sync(), plan() or verify() was given: their options are all parts of SyncOptions. */
export type RunOptions = SyncOptions & { watermark?: boolean | undefined };

const MODES: readonly SyncMode[] = ['auto', 'full', 'incremental'];
const VERIFY_KINDS = ['count', 'checksum'] as const;
const TRIGGER_SUPPRESSION = ['auto', 'disable-triggers'] as const;
const DIRECTIONS = ['local-to-remote', 'remote-to-local'] as const;
const MEMORY_UNITS = ['', 'B', 'kB', 'MB', 'GB', 'TB'];
// A server accepts up to 1024 parallel maintenance workers; more is a mistake, not a wish.
const MAX_WORKERS = 1024;

function invalid(text: Phrase): ConfigurationError {
  return new ConfigurationError(text, { failure: 'invalid-option' });
}

/** A duration in milliseconds: a finite number, 0 or more. */
function milliseconds(value: number | undefined, name: AdvisedOption, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(phrase`${optionNamed(name)} must be a number, 0 or more`);
  return value;
}

function wholeNumber(value: number | undefined, name: AdvisedOption, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw invalid(phrase`${optionNamed(name)} must be a whole number from 0 to ${max}`);
  }
  return value;
}

function oneOf<T extends string>(value: T | undefined, name: AdvisedOption, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value)) throw invalid(phrase`${optionNamed(name)} must be one of ${choices.join(', ')} (got "${String(value)}")`);
  return value;
}

/** PostgreSQL's memory setting form: a number, optionally with one of its units (`256MB`, `1.5GB`, `65536`). */
function isMemoryAmount(text: string): boolean {
  const trimmed = text.trim();
  let end = 0;
  while (end < trimmed.length && ((trimmed[end] ?? '') >= '0' && (trimmed[end] ?? '') <= '9' || trimmed[end] === '.')) end += 1;
  const number = trimmed.slice(0, end);
  return number.length > 0 && Number.isFinite(Number(number)) && MEMORY_UNITS.includes(trimmed.slice(end).trim());
}

function memory(value: string | undefined, name: AdvisedOption, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !isMemoryAmount(value)) {
    throw invalid(phrase`${optionNamed(name)} must be an amount of memory such as 256MB or 1GB (got "${String(value)}")`);
  }
  return value.trim();
}

function tableSelection(tables: readonly string[] | undefined): readonly string[] {
  const selected = tables ?? ARCHON_TABLES;
  if (!Array.isArray(selected) || selected.some((t) => typeof t !== 'string' || t === '')) {
    throw invalid(phrase`${optionNamed('tables')} must be a list of table names`);
  }
  if (selected.length === 0) throw invalid(['no tables selected; name at least one table to copy']);
  for (const name of selected as readonly string[]) {
    // Names are unqualified, in `schema`, and exact: `public.archon_sources` or `Archon_Sources` names no table.
    if (name.includes('.')) throw invalid(phrase`table "${name}" is schema-qualified; name it without its schema in ${optionNamed('tables')} (the schema is ${optionNamed('schema')})`);
    const archon = ARCHON_TABLES.find((t) => t.toLowerCase() === name.toLowerCase());
    if (archon && archon !== name) throw invalid(phrase`table "${name}" is mis-cased; the Archon table is ${archon} (names are exact) in ${optionNamed('tables')}`);
  }
  if (selected.includes(HISTORY_TABLE)) {
    throw invalid(phrase`${HISTORY_TABLE} is archon-sync's own run log in the target and is never copied; ${{ kind: 'exclude-table' }}`);
  }
  return [...new Set<string>(selected)];
}

function history(value: HistoryOptions | false | undefined): HistoryOptions | false {
  if (value === undefined || value === false) return false;
  if (typeof value !== 'object' || !DIRECTIONS.includes(value.direction) || typeof value.sourceDb !== 'string' || typeof value.targetDb !== 'string') {
    throw invalid(['history must be false or { direction: local-to-remote | remote-to-local, sourceDb, targetDb }']);
  }
  return value;
}

function hook<T>(value: T | undefined, name: string): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalid([`${name} must be a function`]);
  return value;
}

function noEvents(): void {}

/**
 * Resolves what sync(), plan() or verify() was given into the one object every step reads. Throws one
 * ConfigurationError naming the first option that is wrong, before anything is contacted.
 */
export function resolveOptions(options: RunOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalid(['no options given; pass at least { source, target }']);
  const schema = options.schema ?? DEFAULTS.schema;
  if (typeof schema !== 'string' || schema === '') throw invalid(phrase`${optionNamed('schema')} must be a schema name`);
  return {
    source: options.source,
    target: options.target,
    sourceEndpoint: describeEndpoint(options.source, 'source'),
    targetEndpoint: describeEndpoint(options.target, 'target'),
    tables: tableSelection(options.tables),
    schema,
    connectTimeoutMs: milliseconds(options.connectTimeoutMs, 'connectTimeoutMs', DEFAULTS.connectTimeoutMs),
    lockTimeoutMs: milliseconds(options.lockTimeoutMs, 'lockTimeoutMs', DEFAULTS.lockTimeoutMs),
    stallTimeoutMs: milliseconds(options.stallTimeoutMs, 'stallTimeoutMs', DEFAULTS.stallTimeoutMs),
    commitTimeoutMs: milliseconds(options.commitTimeoutMs, 'commitTimeoutMs', DEFAULTS.commitTimeoutMs),
    maintenanceWorkMem: memory(options.maintenanceWorkMem, 'maintenanceWorkMem', DEFAULTS.maintenanceWorkMem),
    maxParallelMaintenanceWorkers: wholeNumber(options.maxParallelMaintenanceWorkers, 'maxParallelMaintenanceWorkers', DEFAULTS.maxParallelMaintenanceWorkers, MAX_WORKERS),
    sampleLimit: wholeNumber(options.sampleLimit, 'sampleLimit', DEFAULTS.sampleLimit, Number.MAX_SAFE_INTEGER),
    mode: oneOf(options.mode, 'mode', MODES, DEFAULTS.mode),
    fullCopyShare: share(options.fullCopyShare, 'fullCopyShare', DEFAULTS.fullCopyShare),
    triggerSuppression: oneOf(options.triggerSuppression, 'triggerSuppression', TRIGGER_SUPPRESSION, DEFAULTS.triggerSuppression),
    verify: oneOf(options.verify, 'verify', VERIFY_KINDS, DEFAULTS.verify),
    history: history(options.history),
    watermark: flag(options.watermark, 'watermark', DEFAULTS.watermark),
    signal: options.signal,
    onEvent: hook(options.onEvent, 'onEvent') ?? noEvents,
    confirm: hook(options.confirm, 'confirm'),
    wording: options.wording ?? LIBRARY_WORDING,
    backup: backup(options.backup),
    maxDeleteShare: share(options.maxDeleteShare, 'maxDeleteShare', DEFAULTS.maxDeleteShare),
    targetChanges: oneOf(options.targetChanges, 'targetChanges', TARGET_CHANGES, options.confirm ? 'ask' : 'refuse'),
  };
}

function flag(value: boolean | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid([`${name} must be true or false`]);
  return value;
}

const TARGET_CHANGES = ['ask', 'refuse', 'overwrite'] as const;

function backup(option: BackupOptions | false | undefined): CompiledBackup {
  if (option === false) return { enabled: false };
  if (option !== undefined && (typeof option !== 'object' || option === null)) throw invalid(phrase`${optionNamed('backup')} must be false or { dir, limitBytes, keep, ifCannotKeep }`);
  const limitBytes = option?.limitBytes ?? DEFAULTS.backupLimitBytes;
  const keep = option?.keep ?? DEFAULTS.keepBackups;
  if (typeof limitBytes !== 'number' || !Number.isFinite(limitBytes) || limitBytes < 0) throw invalid(phrase`${optionNamed('backup.limitBytes')} must be a size in bytes (got ${String(limitBytes)})`);
  if (!Number.isInteger(keep) || keep < 1) throw invalid([`backup.keep must be a whole number of runs, 1 or more (got ${String(keep)})`]);
  if (option?.dir !== undefined && (typeof option.dir !== 'string' || option.dir.trim() === '')) throw invalid(phrase`${optionNamed('backup.dir')} is empty; name a directory`);
  return {
    enabled: true,
    dir: resolveBackupDir(option?.dir),
    limitBytes,
    keep,
    ifCannotKeep: oneOf(option?.ifCannotKeep, 'backup', ['warn', 'refuse'] as const, 'warn'),
  };
}

function share(value: number | undefined, name: AdvisedOption, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) throw invalid(phrase`${optionNamed(name)} must be a share from 0 to 1`);
  return value;
}

/** undo()'s options with their defaults applied and values checked, as a sync's are. */
export type ResolvedUndoOptions = UndoOptions & {
  connectTimeoutMs: number; lockTimeoutMs: number; maintenanceWorkMem: string; maxParallelMaintenanceWorkers: number; backupDir: string;
};

export function resolveUndoOptions(options: UndoOptions): ResolvedUndoOptions {
  if (typeof options !== 'object' || options === null || typeof options.syncId !== 'string' || options.syncId === '') {
    throw invalid(['undo needs { target, syncId }']);
  }
  if (options.backupDir !== undefined && (typeof options.backupDir !== 'string' || options.backupDir.trim() === '')) throw invalid(phrase`${optionNamed('backup.dir')} is empty; name a directory`);
  return {
    ...options,
    connectTimeoutMs: milliseconds(options.connectTimeoutMs, 'connectTimeoutMs', DEFAULTS.connectTimeoutMs),
    lockTimeoutMs: milliseconds(options.lockTimeoutMs, 'lockTimeoutMs', DEFAULTS.lockTimeoutMs),
    maintenanceWorkMem: memory(options.maintenanceWorkMem, 'maintenanceWorkMem', DEFAULTS.maintenanceWorkMem),
    maxParallelMaintenanceWorkers: wholeNumber(options.maxParallelMaintenanceWorkers, 'maxParallelMaintenanceWorkers', DEFAULTS.maxParallelMaintenanceWorkers, MAX_WORKERS),
    backupDir: resolveBackupDir(options.backupDir),
  };
}

/** The backups' directory, absolute: the one given, else the default under the home directory. */
export function resolveBackupDir(dir: string | undefined): string {
  return resolve(dir ?? defaultBackupDir());
}

/** For the history helpers, which take one database and a connect timeout. */
export function resolveConnectTimeout(connectTimeoutMs: number | undefined): number {
  return milliseconds(connectTimeoutMs, 'connectTimeoutMs', DEFAULTS.connectTimeoutMs);
}
