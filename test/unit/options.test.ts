// Options are resolved once: every default applied from DEFAULTS, every value checked with one line naming it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliWording } from '../../src/cli/wording.js';
import { DEFAULTS } from '../../src/engine/defaults.js';
import { resolveOptions } from '../../src/engine/options.js';
import { ARCHON_TABLES } from '../../src/engine/tables.js';
import { ConfigurationError } from '../../src/errors.js';
import type { SyncOptions } from '../../src/types.js';

const uris = { source: 'postgresql://a:secret-a@127.0.0.1:5432/src', target: 'postgresql://b:secret-b@127.0.0.1:5433/dst' };

test('every default comes from DEFAULTS, the mode and fullCopyShare included', () => {
  const resolved = resolveOptions(uris);
  assert.deepEqual(
    [resolved.connectTimeoutMs, resolved.lockTimeoutMs, resolved.stallTimeoutMs, resolved.maintenanceWorkMem, resolved.maxParallelMaintenanceWorkers,
      resolved.sampleLimit, resolved.schema, resolved.mode, resolved.fullCopyShare, resolved.triggerSuppression, resolved.verify],
    [DEFAULTS.connectTimeoutMs, DEFAULTS.lockTimeoutMs, DEFAULTS.stallTimeoutMs, DEFAULTS.maintenanceWorkMem, DEFAULTS.maxParallelMaintenanceWorkers,
      DEFAULTS.sampleLimit, DEFAULTS.schema, DEFAULTS.mode, DEFAULTS.fullCopyShare, DEFAULTS.triggerSuppression, DEFAULTS.verify],
  );
  assert.deepEqual(resolved.tables, ARCHON_TABLES);
  assert.equal(resolved.history, false);
  assert.equal(resolved.targetEndpoint.label, '127.0.0.1:5433/dst');
  assert.equal(resolveOptions({ ...uris, stallTimeoutMs: 0, maintenanceWorkMem: '1.5GB', mode: 'full' }).stallTimeoutMs, 0);
});

test('a wrong value fails before anything is contacted, in one line naming the option (and on the command line, its flag)', () => {
  const cases: [Partial<SyncOptions>, RegExp, RegExp | undefined][] = [
    [{ lockTimeoutMs: -1 }, /^lockTimeoutMs must be a number, 0 or more$/, /^--lock-timeout must be a number, 0 or more$/],
    [{ stallTimeoutMs: Number.NaN }, /^stallTimeoutMs must be a number/, /^--stall-timeout /],
    [{ connectTimeoutMs: Number.POSITIVE_INFINITY }, /^connectTimeoutMs must be a number/, /^--connect-timeout /],
    [{ maxParallelMaintenanceWorkers: 2.5 }, /^maxParallelMaintenanceWorkers must be a whole number from 0 to 1024$/, /^--parallel-maintenance-workers /],
    [{ sampleLimit: -3 }, /^sampleLimit must be a whole number/, /^--sample /],
    [{ maintenanceWorkMem: 'lots' }, /^maintenanceWorkMem must be an amount of memory such as 256MB or 1GB \(got "lots"\)$/, /^--maintenance-work-mem /],
    [{ mode: 'sometimes' as SyncOptions['mode'] }, /^mode must be one of auto, full, incremental \(got "sometimes"\)$/, /^--mode /],
    [{ verify: 'md5' as SyncOptions['verify'] }, /^verify must be one of count, checksum/, /^--verify /],
    [{ fullCopyShare: 1.5 }, /^fullCopyShare must be a share from 0 to 1$/, undefined],
    [{ tables: [] }, /^no tables selected/, undefined],
    [{ tables: ['archon_sync_history'] }, /never copied; leave it out of the selection$/, /never copied; leave it out with --exclude$/],
    [{ target: 'postgresql://b@127.0.0.1:70000/dst' }, /^the target database URI has an invalid port "70000"; a port is a number from 1 to 65535/, undefined],
    [{ source: 'postgresql://a:secret-a@[::1:5432/src' }, /^the source database URI cannot be parsed/, undefined],
  ];
  for (const [options, library, cli] of cases) {
    assert.throws(() => resolveOptions({ ...uris, ...options }), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError, String(error));
      assert.match(error.message, library);
      if (cli) assert.match(error.describe(cliWording()), cli);
      assert.ok(!error.message.includes('\n') && !error.message.includes('secret') && !error.message.includes('TypeError'), error.message);
      assert.equal(error.failure, 'invalid-option');
      return true;
    }, JSON.stringify(options));
  }
});
