// Topological load order from foreign keys: parents before children, deterministic, self-references ignored.

export interface Dependency {
  child: string;
  parent: string;
}

export interface LoadOrder {
  order: string[];
  /** Tables that sit on a foreign-key cycle through more than one table (load order cannot satisfy them). */
  cycle: string[];
}

/**
 * Orders `tables` so every parent comes before its children. Ties keep the order of `tables`,
 * so the same input always gives the same plan. Edges to tables outside `tables` are ignored.
 */
export function orderByForeignKeys(tables: readonly string[], dependencies: readonly Dependency[]): LoadOrder {
  const rank = new Map(tables.map((table, index) => [table, index]));
  const parents = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const { child, parent } of dependencies) {
    if (child === parent || !rank.has(child) || !rank.has(parent)) continue;
    parents.get(child)?.add(parent);
  }
  const order: string[] = [];
  const placed = new Set<string>();
  while (order.length < tables.length) {
    const ready = tables.find((t) => !placed.has(t) && [...(parents.get(t) ?? [])].every((p) => placed.has(p)));
    if (ready === undefined) break;
    order.push(ready);
    placed.add(ready);
  }
  const cycle = tables.filter((t) => !placed.has(t));
  return { order: [...order, ...cycle], cycle };
}
