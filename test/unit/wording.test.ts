// The library words its advice with its option names; the command line names its flags instead. Advice travels
// as data (a phrase), so neither side rewrites the other's text.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHECK_URIS, EXCLUDE_TABLE, INIT_HISTORY, optionNamed, phrase, wordPhrase } from '../../src/advice.js';
import { cliWording } from '../../src/cli/wording.js';
import { CopyError } from '../../src/errors.js';

test('library option names become the flags that set them, and only whole names', () => {
  const advice = phrase`raise ${optionNamed('maintenanceWorkMem')} above the memory required; retry or raise ${optionNamed('lockTimeoutMs')}; the source stopped for 60 s (${optionNamed('stallTimeoutMs')})`;
  assert.equal(wordPhrase(advice), 'raise maintenanceWorkMem above the memory required; retry or raise lockTimeoutMs; the source stopped for 60 s (stallTimeoutMs)');
  assert.equal(
    wordPhrase(advice, cliWording()),
    'raise --maintenance-work-mem above the memory required; retry or raise --lock-timeout; the source stopped for 60 s (--stall-timeout)',
  );
  assert.equal(wordPhrase(phrase`or set ${optionNamed('maxParallelMaintenanceWorkers')} to 0`, cliWording()), 'or set --parallel-maintenance-workers to 0');
  // Text is never rewritten: a name inside other words stays as it was.
  assert.equal(wordPhrase(['xlockTimeoutMsx stays'], cliWording()), 'xlockTimeoutMsx stays');
});

test('advice that names what a library caller controls names what a command-line user controls', () => {
  assert.match(wordPhrase(phrase`source and target are the same database (db); ${CHECK_URIS}`, cliWording()), /check LOCAL_DATABASE_URI and REMOTE_DATABASE_URI$/);
  assert.match(wordPhrase(phrase`create it there (apply Archon's migrations) or ${EXCLUDE_TABLE}`, cliWording()), /leave it out with --exclude$/);
  assert.match(wordPhrase(phrase`create it with ${INIT_HISTORY}`, cliWording('remote')), /`archon-sync init-history --database remote`$/);
});

test('an error keeps its advice as data: the library message, the CLI line, and the options it names', () => {
  const error = new CopyError(phrase`copy failed: lock timeout; retry or raise ${optionNamed('lockTimeoutMs')}; the target was rolled back`, { failure: 'lock-timeout' });
  assert.equal(error.message, 'copy failed: lock timeout; retry or raise lockTimeoutMs; the target was rolled back');
  assert.equal(error.describe(cliWording()), 'copy failed: lock timeout; retry or raise --lock-timeout; the target was rolled back');
  assert.equal(error.option, 'lockTimeoutMs');
  assert.deepEqual(error.advice, [{ kind: 'option', option: 'lockTimeoutMs' }]);
  assert.equal(error.failure, 'lock-timeout');
});
