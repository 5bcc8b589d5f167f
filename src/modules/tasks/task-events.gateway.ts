import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { Server, Socket } from 'socket.io';
import { TasksRepository } from './tasks.repository';

const room = (taskId: number) => `task:${taskId}`;

/**
 * Live task output: clients that `task_subscribe {task_id}` get `task_subscribed {task_id}`, then `task_output` while a
 * run streams and `task_finished` at its end; a bad or unknown id gets `task_error`. Callers are re-checked by the
 * SocketAccessMonitor, which disconnects a revoked one, and its subscriptions with it.
 */
@WebSocketGateway()
export class TaskEventsGateway {
  @WebSocketServer()
  private readonly io?: Server;

  constructor(private readonly tasks: TasksRepository) {}

  @SubscribeMessage('task_subscribe')
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody() payload: unknown): Promise<void> {
    const taskId = (payload as { task_id?: unknown } | null)?.task_id;
    if (!Number.isInteger(taskId) || (taskId as number) < 1 || (taskId as number) > 2_147_483_647) {
      socket.emit('task_error', { error: 'task_id must be a positive integer' });
      return;
    }
    if (!(await this.tasks.findById(taskId as number))) {
      socket.emit('task_error', { error: `Task ${taskId} not found`, task_id: taskId });
      return;
    }
    await socket.join(room(taskId as number));
    socket.emit('task_subscribed', { task_id: taskId });
  }

  @SubscribeMessage('task_unsubscribe')
  unsubscribe(@ConnectedSocket() socket: Socket, @MessageBody() payload: unknown): void {
    const taskId = (payload as { task_id?: unknown } | null)?.task_id;
    if (Number.isInteger(taskId)) void socket.leave(room(taskId as number));
  }

  output(taskId: number, runId: number, data: string): void {
    this.io?.to(room(taskId)).emit('task_output', { task_id: taskId, run_id: runId, data });
  }

  finished(taskId: number, runId: number, status: string): void {
    this.io?.to(room(taskId)).emit('task_finished', { task_id: taskId, run_id: runId, status });
  }
}
