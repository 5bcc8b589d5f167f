import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Matches, MinLength } from 'class-validator';
import { NoNulCharacters } from '../../../common/decorators/fields';

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;

export class ChatMessageResponse {
  id: number;
  service_id: number;
  @ApiProperty({ enum: CHAT_ROLES })
  role: string;
  content: string;
  created_at: Date;
}

export class CreateChatMessageDto {
  @ApiProperty({ enum: CHAT_ROLES })
  @IsIn(CHAT_ROLES)
  role: (typeof CHAT_ROLES)[number];

  /** The message text; its length is limited by CHAT_MESSAGE_MAX_CHARS. */
  @ApiProperty({ minLength: 1 })
  @IsString()
  @MinLength(1)
  @Matches(/\S/, { message: 'content must not be blank' })
  @NoNulCharacters()
  content: string;
}
