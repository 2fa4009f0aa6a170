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
