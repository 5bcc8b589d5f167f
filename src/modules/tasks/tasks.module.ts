import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SshModule } from '../../ssh/ssh.module';
import { ServersModule } from '../servers/servers.module';
import { TaskEventsGateway } from './task-events.gateway';
import { TaskRun } from './task-run.entity';
import { TaskRunner } from './task-runner.service';
import { TaskScheduler } from './task-scheduler.service';
import { Task } from './task.entity';
import { TasksController } from './tasks.controller';
import { TasksRepository } from './tasks.repository';
import { TasksService } from './tasks.service';

@Module({
  imports: [TypeOrmModule.forFeature([Task, TaskRun]), SshModule, ServersModule],
  controllers: [TasksController],
  providers: [TasksRepository, TasksService, TaskRunner, TaskScheduler, TaskEventsGateway],
})
export class TasksModule {}
