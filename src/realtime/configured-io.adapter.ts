import { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { ServerOptions } from 'socket.io';

/** Socket.IO on the HTTP port, open to the same browser origins as the REST API (the admin UI). */
export class ConfiguredIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly corsOrigins: string[],
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): unknown {
    const anyOrigin = this.corsOrigins.includes('*');
    return super.createIOServer(port, {
      ...options,
      cors: { origin: anyOrigin ? true : this.corsOrigins, credentials: !anyOrigin },
      transports: ['websocket', 'polling'],
    });
  }
}
