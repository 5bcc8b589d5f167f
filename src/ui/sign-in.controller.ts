import { Controller, Get, Header, Param, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../modules/auth/access.decorators';
import { SESSION_COOKIE } from '../modules/auth/auth.service';
import { IdentifiedRequest, SignInPages } from './sign-in-pages.service';

/** Pages for people, not the API: outside the `/api` prefix (see SIGN_IN_ROUTES) and the OpenAPI document. */
@ApiExcludeController()
@Public()
@Controller()
export class SignInController {
  constructor(private readonly pages: SignInPages) {}

  /** The sign-in page; someone already signed in goes on to `next`. */
  @Get('login')
  @Header('Cache-Control', 'no-store')
  signIn(@Req() request: IdentifiedRequest, @Res() response: Response): void {
    const outcome = this.pages.signIn(request);
    if ('redirect' in outcome) return response.redirect(outcome.redirect);
    response.type('html').send(this.pages.page.render());
  }

  /** The sign-in page's script and style. */
  @Get('login/:asset')
  @Header('Cache-Control', 'no-cache')
  asset(@Param('asset') name: string, @Res() response: Response): void {
    const { type, body } = this.pages.page.asset(name);
    response.type(type).send(body);
  }

  /** Ends the session like `POST /api/auth/logout` (a link can do it) and returns to the sign-in page. */
  @Get('logout')
  @Header('Cache-Control', 'no-store')
  async signOut(@Req() request: IdentifiedRequest, @Res() response: Response): Promise<void> {
    const outcome = await this.pages.signOut(request);
    if (outcome.endSession) response.clearCookie(SESSION_COOKIE, { path: '/' });
    response.redirect(outcome.redirect);
  }
}
