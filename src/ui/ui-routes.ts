import { RequestMethod } from '@nestjs/common';
import type { RouteInfo } from '@nestjs/common/interfaces';

/** SignInController's routes: pages at the root, not under the global `/api` prefix. */
export const SIGN_IN_ROUTES: RouteInfo[] = [
  { path: 'login', method: RequestMethod.GET },
  { path: 'login/:asset', method: RequestMethod.GET },
  { path: 'logout', method: RequestMethod.GET },
];
