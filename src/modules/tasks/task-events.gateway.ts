import { UseFilters } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, WsException } from '@nestjs/websockets';
import { Server, Socket } from 'socket.io';
import { RedisConnections } from '../../cluster/redis-connections';
import { SocketPayloadPipe, SocketRefusalFilter } from '../../realtime/socket-validation';
import { TaskSubscriptionDto } from './task-subscription.dto';
import { TasksRepository } from './tasks.repository';

const room = (taskId: number) => `task:${taskId}`;

/**
 * Live task output: clients that `task_subscribe {task_id}` get `task_subscribed {task_id}`, then `task_output` while a
 * run streams and `task_finished` at its end, until `task_unsubscribe {task_id}` (answered `task_unsubscribed`); a bad
 * or unknown id gets `task_error`. Callers are re-checked by the
 * SocketAccessMonitor, which disconnects a revoked one, and its subscriptions with it.
 */
@WebSocketGateway()
@UseFilters(new SocketRefusalFilter('task_error'))
export class TaskEventsGateway {
  @WebSocketServer()
  private readonly io?: Server;

  constructor(
    private readonly tasks: TasksRepository,
    private readonly redis: RedisConnections,
  ) {}

  @SubscribeMessage('task_subscribe')
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody(SocketPayloadPipe) { task_id: taskId }: TaskSubscriptionDto): Promise<void> {
    if (!(await this.tasks.findById(taskId))) throw new WsException({ error: `Task ${taskId} not found`, task_id: taskId });
    await socket.join(room(taskId));
    socket.emit('task_subscribed', { task_id: taskId });
  }

  @SubscribeMessage('task_unsubscribe')
  async unsubscribe(@ConnectedSocket() socket: Socket, @MessageBody(SocketPayloadPipe) { task_id: taskId }: TaskSubscriptionDto): Promise<void> {
    await socket.leave(room(taskId));
    socket.emit('task_unsubscribed', { task_id: taskId });
  }

  output(taskId: number, runId: number, data: string): void {
    this.subscribersOf(taskId)?.emit('task_output', { task_id: taskId, run_id: runId, data });
  }

  finished(taskId: number, runId: number, status: string): void {
    this.subscribersOf(taskId)?.emit('task_finished', { task_id: taskId, run_id: runId, status });
  }

  /**
   * The task's room; undefined when no one can be in it: alone (no Redis), an empty room here is empty everywhere, and
   * Socket.IO would still encode every event for it (a thousand runs of nobody's tasks paid 3% of their CPU for that).
   */
  private subscribersOf(taskId: number): ReturnType<Server['to']> | undefined {
    if (!this.io || (!this.redis.enabled && !this.io.sockets.adapter.rooms.has(room(taskId)))) return undefined;
    return this.io.to(room(taskId));
  }
}
