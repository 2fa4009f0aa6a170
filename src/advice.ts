// Messages whose advice each front end words its own way: the library names its options, the CLI its flags.

/** The options a message may tell the reader to change. */
export type AdvisedOption =
  | 'lockTimeoutMs'
  | 'stallTimeoutMs'
  | 'commitTimeoutMs'
  | 'connectTimeoutMs'
  | 'maintenanceWorkMem'
  | 'maxParallelMaintenanceWorkers'
  | 'sampleLimit'
  | 'fullCopyShare'
  | 'mode'
  | 'verify'
  | 'triggerSuppression'
  | 'tables'
  | 'schema'
  | 'maxDeleteShare'
  /** Go on over the target's own edits (`targetChanges: 'overwrite'`; `--target-changes=overwrite`). */
  | 'targetChanges'
  | 'backup.limitBytes'
  | 'backup.dir'
  /** Turn backups off (`backup: false`; `--no-backup`). */
  | 'backup'
  /** Undo over changes made since (`force: true`; `--force`). */
  | 'force';

/** Something the reader can do, which a library caller and a command-line user do differently. */
export type Advice =
  /** Change an option (`lockTimeoutMs`; on the command line `--lock-timeout`). */
  | { kind: 'option'; option: AdvisedOption }
  /** Create the archon_sync_history table (`initHistory()`; `archon-sync init-history`). */
  | { kind: 'init-history' }
  /** Leave a table out of the selection (`tables`; `--exclude`). */
  | { kind: 'exclude-table' }
  /** Point source and target at different databases (the two URIs; LOCAL_DATABASE_URI and REMOTE_DATABASE_URI). */
  | { kind: 'check-uris' };

/** A message as text with its advice left as data: `['retry or raise ', { kind: 'option', option: 'lockTimeoutMs' }]`. */
export type Phrase = readonly (string | Advice)[];

/** How a front end words each kind of advice. */
export interface Wording {
  option(option: AdvisedOption): string;
  initHistory: string;
  excludeTable: string;
  checkUris: string;
}

/** Options advised as the setting that helps rather than by name alone. */
const LIBRARY_OPTION_SETTINGS: Partial<Record<AdvisedOption, string>> = {
  targetChanges: "targetChanges: 'overwrite'",
  backup: 'backup: false',
  force: 'force: true',
};

/** The library's own words: option names as a caller passes them. */
export const LIBRARY_WORDING: Wording = {
  option: (option) => LIBRARY_OPTION_SETTINGS[option] ?? option,
  initHistory: 'initHistory()',
  excludeTable: 'leave it out of the selection',
  checkUris: 'point the two URIs at different databases',
};

export function optionNamed(name: AdvisedOption): Advice {
  return { kind: 'option', option: name };
}

export const INIT_HISTORY: Advice = { kind: 'init-history' };
export const EXCLUDE_TABLE: Advice = { kind: 'exclude-table' };
export const CHECK_URIS: Advice = { kind: 'check-uris' };

/** A phrase from a template: `` phrase`retry or raise ${optionNamed('lockTimeoutMs')}` ``; strings and numbers stay text. */
export function phrase(strings: TemplateStringsArray, ...parts: (string | number | Advice | Phrase)[]): Phrase {
  const out: (string | Advice)[] = [];
  strings.forEach((text, i) => {
    if (text) out.push(text);
    if (i >= parts.length) return;
    const part = parts[i];
    if (typeof part === 'string' || typeof part === 'number') out.push(String(part));
    else if (Array.isArray(part)) out.push(...(part as Phrase));
    else if (part !== undefined) out.push(part as Advice);
  });
  return out;
}

/** Joins phrases with `; `, leaving out empty ones. */
export function joinPhrases(...phrases: (Phrase | string | undefined)[]): Phrase {
  const present = phrases.filter((p): p is Phrase | string => p !== undefined && p.length > 0);
  return present.flatMap((p, i) => [...(i > 0 ? ['; '] : []), ...(typeof p === 'string' ? [p] : p)]);
}

export function word(advice: Advice, wording: Wording): string {
  switch (advice.kind) {
    case 'option': return wording.option(advice.option);
    case 'init-history': return wording.initHistory;
    case 'exclude-table': return wording.excludeTable;
    case 'check-uris': return wording.checkUris;
  }
}

/** The phrase as one line in `wording`'s words. */
export function wordPhrase(text: Phrase, wording: Wording = LIBRARY_WORDING): string {
  return text.map((part) => (typeof part === 'string' ? part : word(part, wording))).join('');
}

/** The advice a phrase carries, in order. */
export function adviceIn(text: Phrase): Advice[] {
  return text.filter((part): part is Advice => typeof part !== 'string');
}
