// The library words its advice with its option names; the command line names its flags instead.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliWording } from '../../src/cli/wording.js';

test('library option names become the flags that set them, and only whole names', () => {
  assert.equal(
    cliWording('raise maintenanceWorkMem above the memory required; retry or raise lockTimeoutMs; the source stopped for 60 s (stallTimeoutMs)'),
    'raise --maintenance-work-mem above the memory required; retry or raise --lock-timeout; the source stopped for 60 s (--stall-timeout)',
  );
  assert.equal(cliWording('or set maxParallelMaintenanceWorkers to 0'), 'or set --parallel-maintenance-workers to 0');
  assert.equal(cliWording('xlockTimeoutMsx stays'), 'xlockTimeoutMsx stays');
});

test('advice that names what a library caller controls names what a command-line user controls', () => {
  assert.match(cliWording('source and target are the same database (db); point the two URIs at different databases'), /check LOCAL_DATABASE_URI and REMOTE_DATABASE_URI$/);
  assert.match(cliWording('create it there (apply Archon\'s migrations) or leave it out of the selection'), /leave it out with --exclude$/);
});
