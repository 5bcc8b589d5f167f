import { Module } from '@nestjs/common';
import { AuthModule } from '../modules/auth/auth.module';
import { AdminUiFiles } from './admin-ui-files';
import { SignInController } from './sign-in.controller';
import { SignInPages } from './sign-in-pages.service';

/** What browsers get besides the API: the sign-in page at /login, /logout, and the admin UI in UI_DIR at `/`. */
@Module({
  imports: [AuthModule],
  controllers: [SignInController],
  providers: [SignInPages, AdminUiFiles],
})
export class UiModule {}
