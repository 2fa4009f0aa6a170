// What a column's values are built from beyond its type's name: enum labels, a domain's base type, a composite's
// fields, an array's element, a range's subtype, followed recursively through the catalog.

import { quoteIdent, quoteLiteral } from './quote.js';

/**
 * A recursive CTE `column_types(relid, typ)` (for a `WITH RECURSIVE`): for each table whose oid `relids` (SQL
 * yielding oids) lists, every type its column values are built from. A stored enum is the oid of a pg_enum row,
 * a domain's value is its base type's, a composite holds its fields, an array its elements, a range its
 * subtype's bounds; so each of those types is followed in turn. UNION stops at types already reached. (Nothing
 * here names a catalog column newer than PostgreSQL 13, such as pg_range.rngmultitypid: a multirange is followed
 * no further than its own pg_type row, and its range cannot be altered in any way that changes a value.)
 */
export function columnTypesCte(relids: string): string {
  return `column_types(relid, typ) AS (
  SELECT a.attrelid, a.atttypid FROM pg_catalog.pg_attribute a
   WHERE a.attrelid IN (${relids}) AND a.attnum > 0 AND NOT a.attisdropped
  UNION
  SELECT c.relid, n.typ FROM column_types c JOIN pg_catalog.pg_type t ON t.oid = c.typ
   CROSS JOIN LATERAL (
     SELECT t.typbasetype WHERE t.typbasetype <> 0
     UNION ALL SELECT t.typelem WHERE t.typelem <> 0
     UNION ALL SELECT f.atttypid FROM pg_catalog.pg_attribute f WHERE f.attrelid = t.typrelid AND f.attnum > 0 AND NOT f.attisdropped
     UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid) n(typ)
)`;
}

/** A type as a column, field, base or element names it: format_type() with its typmod, and the type's schema. */
export interface TypeRef {
  oid: number;
  name: string;
  schema: string;
}

/** One type with a structure of its own (enum, domain, composite, array, range). */
export interface TypeRow {
  oid: number;
  /** pg_type.typtype: e enum, d domain, c composite, r range, b base (here: an array). */
  kind: string;
  labels: string[] | null;
  base: TypeRef | null;
  element: TypeRef | null;
  fields: (TypeRef & { field: string })[] | null;
  /** A range's subtype. */
  subtype: TypeRef | null;
}

const REF = (oid: string, typmod: string) =>
  `json_build_object('oid', ${oid}::int8, 'name', pg_catalog.format_type(${oid}, ${typmod}),
     'schema', (SELECT rn.nspname FROM pg_catalog.pg_type rt JOIN pg_catalog.pg_namespace rn ON rn.oid = rt.typnamespace WHERE rt.oid = ${oid}))`;

/**
 * A JSON array of TypeRow for every structured type in `column_types` (plain base types need no row: their
 * name is all there is to them). Enum labels come in their sort order, fields in their column order.
 */
export const TYPE_ROWS_SQL = `(SELECT coalesce(json_agg(json_build_object(
    'oid', t.oid::int8, 'kind', t.typtype,
    'labels', CASE WHEN t.typtype = 'e' THEN array(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END,
    'base', CASE WHEN t.typtype = 'd' THEN ${REF('t.typbasetype', 't.typtypmod')} END,
    'element', CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN ${REF('t.typelem', 'NULL')} END,
    'fields', CASE WHEN t.typtype = 'c' THEN (SELECT json_agg(json_build_object('field', f.attname) :: jsonb || ${REF('f.atttypid', 'f.atttypmod')}::jsonb ORDER BY f.attnum)
                 FROM pg_catalog.pg_attribute f WHERE f.attrelid = t.typrelid AND f.attnum > 0 AND NOT f.attisdropped) END,
    'subtype', (SELECT ${REF('g.rngsubtype', 'NULL')} FROM pg_catalog.pg_range g WHERE g.rngtypid = t.oid))), '[]')
   FROM pg_catalog.pg_type t
  WHERE t.oid IN (SELECT typ FROM column_types) AND (t.typtype IN ('e', 'd', 'c', 'r') OR (t.typelem <> 0 AND t.typlen = -1)))`;

/** format_type() output without the type's own schema, so `extensions.vector(3)` and `vector(3)` compare equal. */
export function withoutOwnSchema(formatted: string, schema: string): string {
  for (const prefix of [`${quoteIdent(schema)}.`, `${schema}.`]) {
    if (formatted.startsWith(prefix)) return formatted.slice(prefix.length);
  }
  return formatted;
}

// Composites cannot contain themselves, but a catalog read half-way through a change is not worth looping on.
const MAX_DEPTH = 16;

/**
 * What values of `ref` mean, in words a user recognises from DDL: the name alone for a plain type, else e.g.
 * `task_status AS ENUM ('todo', 'done')`, `score AS DOMAIN OVER integer`, `address AS (street text, zip integer)`,
 * `task_status[] OF task_status AS ENUM (…)`, `span AS RANGE OF integer`. Equal on two sides exactly when the
 * same value means the same there.
 */
export function describeType(ref: TypeRef, types: ReadonlyMap<number, TypeRow>, depth = 0): string {
  const name = withoutOwnSchema(ref.name, ref.schema);
  const row = types.get(ref.oid);
  if (!row || depth > MAX_DEPTH) return name;
  const inner = (r: TypeRef) => describeType(r, types, depth + 1);
  if (row.kind === 'e') return `${name} AS ENUM (${(row.labels ?? []).map(quoteLiteral).join(', ')})`;
  if (row.kind === 'd' && row.base) return `${name} AS DOMAIN OVER ${inner(row.base)}`;
  if (row.kind === 'c') return `${name} AS (${(row.fields ?? []).map((f) => `${f.field} ${inner(f)}`).join(', ')})`;
  if (row.kind === 'r' && row.subtype) return `${name} AS RANGE OF ${inner(row.subtype)}`;
  if (row.element) {
    const element = inner(row.element);
    return element === withoutOwnSchema(row.element.name, row.element.schema) ? name : `${name} OF ${element}`;
  }
  return name;
}
