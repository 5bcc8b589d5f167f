import { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';

/** Deletes an owner's history rows (task runs, service operations) but its newest `keep`, by `started_at` then id. */
export async function keepNewest<Row extends ObjectLiteral>(
  manager: EntityManager,
  entity: EntityTarget<Row>,
  ownerColumn: string,
  ownerId: number,
  keep: number,
): Promise<void> {
  const kept = manager
    .createQueryBuilder(entity, 'kept')
    .select('kept.id', 'id')
    .where(`kept.${ownerColumn} = :ownerId`)
    .orderBy('kept.started_at', 'DESC')
    .addOrderBy('kept.id', 'DESC')
    .limit(keep);
  await manager
    .createQueryBuilder()
    .delete()
    .from(entity)
    .where(`${ownerColumn} = :ownerId`)
    .andWhere(`id NOT IN (SELECT "ids"."id" FROM (${kept.getQuery()}) "ids")`)
    .setParameters({ ownerId })
    .execute();
}
