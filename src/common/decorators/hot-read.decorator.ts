import { SetMetadata } from '@nestjs/common';

export const HOT_READ = 'hot-reads:hot-read';

/**
 * A GET the admin UI polls, answered by the HotReadLane ahead of the middleware chain and Nest's pipeline when the
 * request is a plain one (see HotReadLane). The handler takes `@Res()` (not with passthrough) and sends its answer, may
 * take `@Req()`, nothing else, and has no guards or interceptors of its own: the lane checks this at start-up.
 */
export const HotRead = (): MethodDecorator => SetMetadata(HOT_READ, true);
