import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { Server, Socket } from 'socket.io';

const room = (taskId: number) => `task:${taskId}`;

/** Live task output: clients that `task_subscribe {task_id}` get `task_output` while a run streams and `task_finished`. */
@WebSocketGateway()
export class TaskEventsGateway {
  @WebSocketServer()
  private readonly io?: Server;

  @SubscribeMessage('task_subscribe')
  subscribe(@ConnectedSocket() socket: Socket, @MessageBody() payload: unknown): void {
    const taskId = (payload as { task_id?: unknown } | null)?.task_id;
    if (!Number.isInteger(taskId) || (taskId as number) < 1) {
      socket.emit('task_error', { error: 'task_id must be a positive integer' });
      return;
    }
    void socket.join(room(taskId as number));
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
