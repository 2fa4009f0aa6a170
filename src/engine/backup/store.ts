// The local backup store: a directory per target database, one per run inside it, every file flushed before it counts.

import { createHash } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MANIFEST_FILE, parseManifest, type BackupManifest } from './manifest.js';

/** Who a target database is, as far as the backup cares: its cluster, its database, its name. */
export interface TargetKeyParts {
  /** pg_control_system().system_identifier, or null where the role could not read it. */
  system: string | null;
  /** The database's oid. */
  database: string;
  /** current_database(), for a readable directory name. */
  name: string;
  /** host:port/database without a password: what stands in for the cluster when its identifier is unreadable. */
  label: string;
}

/**
 * The directory name of a target's backups: its database name and a hash of who it is (cluster identifier and
 * database oid), never its URI. Without the cluster identifier the endpoint's host, port and database stand in.
 */
export function targetKey(parts: TargetKeyParts): string {
  const who = parts.system === null ? `unknown/${parts.label}/${parts.database}` : `${parts.system}/${parts.database}`;
  const hash = createHash('sha256').update(who).digest('hex').slice(0, 16);
  const name = parts.name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40) || 'db';
  return `${name}-${hash}`;
}

/** One run's backup on disk: its directory and, once sealed, its manifest. */
export interface StoredBackup {
  dir: string;
  /** The directory's name: the run's sync id. */
  syncId: string;
  /** The target directory's name (targetKey). */
  key: string;
  /** Whether a manifest file is there (a run that died before sealing leaves none). */
  sealed: boolean;
  /** The manifest, when this version can read it. */
  manifest: BackupManifest | undefined;
}

const SAFE_ID = /^[A-Za-z0-9_.-]{1,100}$/;

/** Flushes a directory's entries (a file created or renamed in it) to disk. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `path` and any missing parents (private to the user), flushing each parent that gained an entry. */
async function makeDirectories(path: string): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  // Every directory from the first one created down to `path` is new: its parent must record it.
  for (let dir = path; ; dir = dirname(dir)) {
    await syncDirectory(dirname(dir));
    if (dir === first || dirname(dir) === dir) break;
  }
}

/**
 * Streams `source` into a new file, private (0600), which must not exist yet; resolves with the bytes written.
 * Not flushed: flushFiles() does that for all of a run's files at once.
 */
export async function streamToFile(source: Readable, path: string, signal?: AbortSignal): Promise<number> {
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 });
  await pipeline(source, out, signal ? { signal } : {});
  return out.bytesWritten;
}

/** Flushes files to disk (fsync), all at once: the file system commits them together rather than one by one. */
export async function flushFiles(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map(async (path) => {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }));
}

/** Bytes free for an unprivileged user on the file system that holds `path` (or would hold it, once created). */
export async function freeBytes(path: string): Promise<number> {
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      const stats = await statfs(dir);
      return stats.bavail * stats.bsize;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) throw error;
    }
  }
}

/** The backups under one root directory. */
export class BackupStore {
  constructor(readonly root: string) {}

  targetDir(key: string): string {
    return join(this.root, key);
  }

  /** A new, empty run directory for `syncId` (suffixed `_2`, `_3`, … if taken), with every parent flushed. */
  async createRun(key: string, syncId: string): Promise<{ dir: string; syncId: string }> {
    if (!SAFE_ID.test(syncId)) throw new Error(`a sync id must be letters, digits, _ . or - (got ${JSON.stringify(syncId)})`);
    const parent = this.targetDir(key);
    await makeDirectories(parent);
    for (let attempt = 1; attempt <= 100; attempt++) {
      const id = attempt === 1 ? syncId : `${syncId}_${attempt}`;
      const dir = join(parent, id);
      try {
        await mkdir(dir, { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      await syncDirectory(parent);
      return { dir, syncId: id };
    }
    throw new Error(`no free backup directory for ${syncId} in ${parent}`);
  }

  /** Writes the manifest atomically: a flushed temporary file renamed over it, and the directory flushed. */
  async writeManifest(dir: string, manifest: BackupManifest): Promise<void> {
    const temporary = join(dir, `${MANIFEST_FILE}.tmp`);
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(manifest, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, join(dir, MANIFEST_FILE));
    await syncDirectory(dir);
  }

  /** Every run directory of one target, oldest first (by the time sealed; unsealed ones first). */
  async list(key: string): Promise<StoredBackup[]> {
    const parent = this.targetDir(key);
    let entries: string[];
    try {
      entries = await readdir(parent);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const found = await Promise.all(entries.filter((e) => SAFE_ID.test(e)).map((syncId) => this.read(key, syncId)));
    return found.filter((b): b is StoredBackup => b !== undefined)
      .sort((a, b) => (a.manifest?.createdAt ?? '').localeCompare(b.manifest?.createdAt ?? '') || a.syncId.localeCompare(b.syncId));
  }

  /** The backups of `syncId` under every target directory (normally one). */
  async find(syncId: string): Promise<StoredBackup[]> {
    if (!SAFE_ID.test(syncId)) return [];
    let keys: string[];
    try {
      keys = await readdir(this.root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const found = await Promise.all(keys.map((key) => this.read(key, syncId)));
    return found.filter((b): b is StoredBackup => b !== undefined);
  }

  private async read(key: string, syncId: string): Promise<StoredBackup | undefined> {
    const dir = join(this.targetDir(key), syncId);
    let text: string | undefined;
    try {
      text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') return undefined;
      if (code !== 'ENOENT') throw error;
      try {
        await readdir(dir);
      } catch {
        return undefined;
      }
    }
    return { dir, syncId, key, sealed: text !== undefined, manifest: text === undefined ? undefined : parseManifest(text) };
  }

  async remove(backup: Pick<StoredBackup, 'dir'>): Promise<void> {
    await rm(backup.dir, { recursive: true, force: true });
  }

  /**
   * Keeps the newest `keep` sealed backups of a target and removes the older ones; with `partial`, also removes
   * the directories of runs that died before sealing theirs (only while holding the target's sync lock: no run
   * of this target can be writing one then). Returns the sync ids removed.
   */
  async prune(key: string, options: { keep?: number | undefined; partial: boolean }): Promise<string[]> {
    const all = await this.list(key);
    const sealed = all.filter((b) => b.sealed);
    const old = options.keep === undefined ? [] : sealed.slice(0, Math.max(0, sealed.length - options.keep));
    const doomed = [...old, ...(options.partial ? all.filter((b) => !b.sealed) : [])];
    for (const backup of doomed) await this.remove(backup);
    return doomed.map((b) => b.syncId);
  }
}
