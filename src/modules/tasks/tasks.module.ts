import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SshModule } from '../../ssh/ssh.module';
import { Server } from '../servers/server.entity';
import { ServersModule } from '../servers/servers.module';
import { TaskRun } from './task-run.entity';
import { Task } from './task.entity';
import { TasksController } from './tasks.controller';
import { TasksRepository } from './tasks.repository';
import { TasksService } from './tasks.service';

@Module({
  imports: [TypeOrmModule.forFeature([Task, TaskRun, Server]), SshModule, ServersModule],
  controllers: [TasksController],
  providers: [TasksRepository, TasksService],
})
export class TasksModule {}
