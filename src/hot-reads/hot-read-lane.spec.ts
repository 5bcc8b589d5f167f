import { CanActivate, Controller, Get, Param, Post, Query, Req, Res, Type, UseGuards } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthService } from '../modules/auth/auth.service';
import { BackendMetrics } from '../observability/backend-metrics.service';
import { HotReadLane } from './hot-read-lane';
import { HotRead } from '../common/decorators/hot-read.decorator';

class AllowAll implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

@Controller('fine')
class FineController {
  @Get()
  @HotRead()
  list(@Req() request: IncomingMessage, @Res() response: ServerResponse): void {
    response.end(request.url);
  }
}

@Controller('query')
class QueryController {
  @Get()
  @HotRead()
  list(@Query('page') page: string): string {
    return page;
  }
}

@Controller('passthrough')
class PassthroughController {
  @Get()
  @HotRead()
  list(@Res({ passthrough: true }) response: ServerResponse): string {
    return String(response.statusCode);
  }
}

@Controller('returning')
class ReturningController {
  @Get()
  @HotRead()
  list(): string {
    return 'a value for Nest to send';
  }
}

@Controller('post')
class PostController {
  @Post()
  @HotRead()
  create(): string {
    return '';
  }
}

@Controller('guarded')
@UseGuards(AllowAll)
class GuardedController {
  @Get()
  @HotRead()
  list(): string {
    return '';
  }
}

@Controller('param')
class ParamController {
  @Get(':id')
  @HotRead()
  one(@Param('id') id: string): string {
    return id;
  }
}

async function startWith(controller: Type<unknown>): Promise<void> {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule],
    controllers: [controller],
    providers: [HotReadLane, { provide: AuthService, useValue: {} }, { provide: BackendMetrics, useValue: {} }],
  }).compile();
  await moduleRef.init();
  await moduleRef.close();
}

/** A @HotRead the lane could not answer exactly as the chain would stops the start, naming the handler. */
describe('HotReadLane declarations', () => {
  it('accepts a GET that takes @Req() and @Res() and sends its answer', async () => {
    await expect(startWith(FineController)).resolves.toBeUndefined();
  });

  it.each(
    (
      [
        [QueryController, /QueryController\.list takes more than @Req\(\) and @Res\(\)/],
        [PassthroughController, /PassthroughController\.list must take @Res\(\) without passthrough/],
        [ReturningController, /ReturningController\.list must take @Res\(\) without passthrough/],
        [PostController, /PostController\.create is not a GET/],
        [GuardedController, /GuardedController\.list has guards or interceptors of its own/],
        [ParamController, /ParamController\.one (has a parameter in its path|takes more than)/],
      ] as [Type<unknown>, RegExp][]
    ).map(([controller, message]) => [controller.name, controller, message] as const),
  )('refuses %s', async (_name, controller, message) => {
    await expect(startWith(controller)).rejects.toThrow(message);
  });
});
