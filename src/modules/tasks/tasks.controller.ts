import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { HistoryQuery } from '../../common/dto/history-query.dto';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { CreatedResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { CreateTaskDto, ExecuteTaskResponse, TaskResponse, TaskResultResponse, TaskRunResponse, UpdateTaskDto } from './dto/task.dto';
import { TasksService } from './tasks.service';

@ApiTags('tasks')
@Controller('tasks')
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  /** Lists tasks, newest first, with the server's name. */
  @Get()
  @ApiOkResponse({ type: [TaskResponse] })
  listTasks(): Promise<TaskResponse[]> {
    return this.tasks.list();
  }

  /** Creates a shell task on a server, run once, daily, weekly or on a cron schedule. */
  @Post()
  @ApiCreatedResponse({ type: CreatedResponse })
  @ApiErrors(400)
  async createTask(@Body() dto: CreateTaskDto): Promise<CreatedResponse> {
    const task = await this.tasks.create(dto);
    return { id: task.id, message: 'Task created successfully' };
  }

  /** One task, with its server's name and its last result. */
  @Get(':id')
  @ApiOkResponse({ type: TaskResponse })
  @ApiErrors(400, 404)
  getTask(@Param('id', ParseIdPipe) id: number): Promise<TaskResponse> {
    return this.tasks.get(id);
  }

  /** Updates a task; fields left out keep their values. */
  @Put(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404)
  async updateTask(@Param('id', ParseIdPipe) id: number, @Body() dto: UpdateTaskDto): Promise<MessageResponse> {
    await this.tasks.update(id, dto);
    return { message: 'Task updated successfully' };
  }

  /** Deletes a task and its run history; refused while it runs. */
  @Delete(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async deleteTask(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.tasks.delete(id);
    return { message: 'Task deleted successfully' };
  }

  /**
   * Runs the command now on the task's server (`bash -l -c` with a pty) and waits for it. A failed command
   * or an unreachable server is a 200 with `success: false` and `error` saying why; 409 while a run of the
   * same task is still going.
   */
  @Post(':id/execute')
  @HttpCode(200)
  @ApiOkResponse({ type: ExecuteTaskResponse })
  @ApiErrors(400, 404, 409)
  executeTask(@Param('id', ParseIdPipe) id: number): Promise<ExecuteTaskResponse> {
    return this.tasks.execute(id);
  }

  /** The last run's result, or `{last_run: null, message}` before the first run. */
  @Get(':id/result')
  @ApiOkResponse({ type: TaskResultResponse })
  @ApiErrors(400, 404)
  getTaskResult(@Param('id', ParseIdPipe) id: number): Promise<TaskResultResponse> {
    return this.tasks.result(id);
  }

  /** The task's run history, newest first. */
  @Get(':id/runs')
  @ApiOkResponse({ type: [TaskRunResponse] })
  @ApiErrors(400, 404)
  listTaskRuns(@Param('id', ParseIdPipe) id: number, @Query() query: HistoryQuery): Promise<TaskRunResponse[]> {
    return this.tasks.runs(id, query.limit);
  }
}
