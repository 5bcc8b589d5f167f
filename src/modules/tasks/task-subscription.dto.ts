import { IsInt, Max, Min } from 'class-validator';
import { MAX_INT32 } from '../../common/decorators/fields';

const TASK_ID_RULE = { message: 'task_id must be a positive integer' };

/** `task_subscribe {task_id}`. */
export class TaskSubscriptionDto {
  @IsInt(TASK_ID_RULE)
  @Min(1, TASK_ID_RULE)
  @Max(MAX_INT32, TASK_ID_RULE)
  task_id: number;
}
