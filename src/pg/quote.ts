// SQL identifier quoting: every identifier we put into SQL text goes through here.

/** Quotes one identifier the way PostgreSQL's quote_ident does, always (safe for any name). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A schema-qualified, quoted relation name. */
export function quoteTable(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** A quoted, comma-separated column list. */
export function quoteColumns(columns: readonly string[]): string {
  return columns.map(quoteIdent).join(', ');
}

/** A string literal for the rare statements that cannot take parameters (SET, utility commands). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * A string literal for data in statements that cannot take parameters (`COPY (SELECT … WHERE key IN (…))`).
 * Written as quote_literal() writes it, E'' with backslashes doubled, so it reads the same whatever the
 * server's standard_conforming_strings says.
 */
export function quoteDataLiteral(value: string): string {
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/** A non-negative whole number for SET LOCAL and the like (milliseconds, worker counts). */
export function sqlCount(value: number): number {
  return Math.max(0, Math.round(value));
}

/** A text[] literal of `values`, for statements sent without parameters (runBatch). */
export function quoteTextArray(values: readonly string[]): string {
  return `ARRAY[${values.map(quoteLiteral).join(', ')}]::pg_catalog.text[]`;
}

/**
 * `DO $tag$ body $tag$` with a tag the body does not contain: a body can carry values (endpoint labels, sample keys,
 * names) that hold any text.
 */
export function dollarQuotedBlock(body: string): string {
  let tag = 'archon_sync';
  for (let n = 1; body.includes(`$${tag}$`); n++) tag = `archon_sync_${n}`;
  return `DO $${tag}$ ${body} $${tag}$`;
}
