import type { Knex } from 'knex';

/** A page of a list, as every list route answers it. */
export interface Page<T> {
  data: T[];
  page: { limit: number; offset: number; total: number };
}

/**
 * One page of `q` (which carries its select and order) and the total of its rows: the count
 * runs on the same query without select and order, in parallel.
 */
export async function paginate<Row, T>(
  q: Knex.QueryBuilder,
  limit: number,
  offset: number,
  map: (row: Row) => T,
): Promise<Page<T>> {
  const countQ = q.clone().clearSelect().clearOrder().count<{ count: string }[]>({ count: '*' });
  const [rows, counted] = await Promise.all([q.clone().limit(limit).offset(offset), countQ]);
  return { data: (rows as Row[]).map(map), page: { limit, offset, total: Number(counted[0]?.count ?? 0) } };
}
