import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { CachedWrites } from '../../database/cached-writes';
import { ReadCache } from '../../database/read-cache.service';
import { SINGLE_ROW } from '../../database/save-options';
import { keepNewest } from '../../database/history';
import { Transactions } from '../../database/transactions.service';
import { OperationOutcome, ServiceOperationRecord } from './service-operation.entity';
import { DeployResult, Service } from './service.entity';

/** How an operation ended, as `finish` stores it. */
export interface OperationEnd {
  outcome: Exclude<OperationOutcome, 'running'>;
  results: DeployResult[];
  status_after: string;
}

/** The operation history of services (`service_operations`) and what an operation changes on its service. */
@Injectable()
export class ServiceOperationsRepository {
  /** The records themselves are not cached; the services' status they change is. */
  private readonly writes: CachedWrites;

  constructor(
    @InjectRepository(ServiceOperationRecord) private readonly records: Repository<ServiceOperationRecord>,
    private readonly transactions: Transactions,
    cache: ReadCache,
  ) {
    this.writes = new CachedWrites(cache, 'services');
  }

  /**
   * Records the start of an operation. A deploy or restart also turns its service `deploying` (which periodic syncs
   * leave alone); a stop leaves the status as it is until the agents answer.
   */
  start(fields: Pick<ServiceOperationRecord, 'service_id' | 'operation' | 'started_by' | 'command'>): Promise<ServiceOperationRecord> {
    return this.writes.run(() =>
      this.transactions.run(async (manager) => {
        if (fields.operation !== 'stop') {
          await manager.update(Service, { id: fields.service_id }, { deploy_status: 'deploying', deploy_operation: fields.operation });
        }
        return manager.save(manager.create(ServiceOperationRecord, { ...fields, started_at: new Date(), outcome: 'running' }), SINGLE_ROW);
      }),
    );
  }

  /**
   * Ends an operation: its record, the service's status, and — for a deploy or restart — the service's
   * `deploy_result` (a stop never touches the deploy log). Only the newest `keep` records of the service are kept.
   */
  async finish(record: Pick<ServiceOperationRecord, 'id' | 'service_id' | 'operation'>, end: OperationEnd, keep: number): Promise<void> {
    await this.writes.run(() =>
      this.transactions.run(async (manager) => {
        await manager.update(ServiceOperationRecord, { id: record.id }, { ...end, finished_at: new Date() });
        const resultsToo = record.operation === 'stop' ? {} : { deploy_result: end.results };
        await manager.update(Service, { id: record.service_id }, { deploy_status: end.status_after, ...resultsToo });
        await keepNewest(manager, ServiceOperationRecord, 'service_id', record.service_id, keep);
      }),
    );
  }

  /** Newest first. */
  list(serviceId: number, limit: number): Promise<ServiceOperationRecord[]> {
    return this.records.find({ where: { service_id: serviceId }, order: { started_at: 'DESC', id: 'DESC' }, take: limit });
  }

  /** Operations that never finished: the backend stopped while they ran. */
  findUnfinished(): Promise<ServiceOperationRecord[]> {
    return this.records.find({ where: { outcome: 'running' }, order: { id: 'ASC' } });
  }
}
