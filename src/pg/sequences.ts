// Moving the target's sequences past the copied ids, in one round trip, undone by a rollback.

import type pg from 'pg';
import type { SequenceInfo } from './catalog.js';
import { dollarQuotedBlock, quoteIdent, quoteLiteral } from './quote.js';

export interface SequenceTarget {
  sequence: SequenceInfo;
  /** Quoted table the column belongs to. */
  table: string;
  /** The source sequence's last value, when it was read: ids are never handed out twice. */
  sourceLastValue: number | null;
}

/**
 * Moves every sequence past every id in its column (and past the source's own position) in one round trip.
 * ALTER SEQUENCE … RESTART gives the sequence new storage, so, unlike setval(), it is undone by a rollback:
 * a failed run leaves every sequence where it was. A sequence already in place is left alone (no write).
 */
export async function advanceSequences(client: pg.ClientBase, targets: readonly SequenceTarget[]): Promise<void> {
  if (targets.length === 0) return;
  const steps = targets.map(({ sequence, table, sourceLastValue }) => {
    const up = sequence.increment >= 0;
    const source = sourceLastValue === null ? 'NULL' : `${sourceLastValue}::bigint`;
    const extreme = up ? 'greatest' : 'least';
    const aggregate = up ? 'max' : 'min';
    return `
  SELECT coalesce(${extreme}((SELECT ${aggregate}(${quoteIdent(sequence.column)}) FROM ONLY ${table})::bigint, ${source}) + ${sequence.increment},
                  (SELECT seqstart FROM pg_sequence WHERE seqrelid = ${quoteLiteral(sequence.sequence)}::regclass)) INTO wanted;
  SELECT CASE WHEN is_called THEN last_value + ${sequence.increment} ELSE last_value END INTO next_value FROM ${sequence.sequence};
  IF next_value IS DISTINCT FROM wanted THEN
    EXECUTE ${quoteLiteral(`ALTER SEQUENCE ${sequence.sequence} RESTART WITH `)} || wanted::text;
  END IF;`;
  });
  await client.query(dollarQuotedBlock(`\nDECLARE wanted bigint; next_value bigint;\nBEGIN${steps.join('')}\nEND\n`));
}
