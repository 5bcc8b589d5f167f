import { SetMetadata } from '@nestjs/common';

export const HOT_READ = 'hot-reads:hot-read';

/**
 * A GET the admin UI polls, answered by the HotReadLane ahead of Express and Nest's pipeline when the request is a plain
 * one (see HotReadLane). The handler takes `@Res()` (not with passthrough) and sends its answer, may take `@Req()`,
 * nothing else, and has no guards or interceptors of its own: the lane checks this at start-up. From the lane they are
 * Node's request and response, not Express's: the handler uses only what Node's have.
 */
export const HotRead = (): MethodDecorator => SetMetadata(HOT_READ, true);
