import { WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { Server } from 'socket.io';

/** Pushes `service_status {id, deploy_status}` to every Socket.IO client, so UIs need not poll. */
@WebSocketGateway()
export class ServiceStatusGateway {
  @WebSocketServer()
  private readonly io?: Server;

  publish(id: number, deploy_status: string): void {
    this.io?.emit('service_status', { id, deploy_status });
  }
}
