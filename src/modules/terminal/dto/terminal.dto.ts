import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { MAX_INT32 } from '../../../common/decorators/fields';

/** The payloads of the terminal's Socket.IO messages; a broken rule's message is sent as `ssh_error`. */

const MAX_AUTO_COMMAND_CHARS = 4096;
const MAX_WINDOW_DIMENSION = 1000;
export const MAX_INPUT_CHARS = 64 * 1024;

const SERVER_ID_RULE = { message: 'server_id must be a positive integer' };
const SERVICE_ID_RULE = { message: 'service_id must be a positive integer' };
const AUTO_COMMAND_RULE = { message: `auto_command must be a string of at most ${MAX_AUTO_COMMAND_CHARS} characters` };
const WINDOW_SIZE_RULE = { message: `cols and rows must be integers from 1 to ${MAX_WINDOW_DIMENSION}` };

/** `ssh_connect {server_id, auto_command?, service_id?, cols?, rows?}`; absent and null fields alike take their default. */
export class SshConnectDto {
  @IsInt(SERVER_ID_RULE)
  @Min(1, SERVER_ID_RULE)
  @Max(MAX_INT32, SERVER_ID_RULE)
  server_id: number;

  /** Typed at the prompt once the shell has started; empty means none. */
  @IsOptional()
  @IsString(AUTO_COMMAND_RULE)
  @MaxLength(MAX_AUTO_COMMAND_CHARS, AUTO_COMMAND_RULE)
  auto_command?: string | null;

  /** Given by the service pages, whose clients are also told whether the pooled connection was reused. */
  @IsOptional()
  @IsInt(SERVICE_ID_RULE)
  @Min(1, SERVICE_ID_RULE)
  @Max(MAX_INT32, SERVICE_ID_RULE)
  service_id?: number | null;

  // Each may be given alone; the other keeps its default.
  @IsOptional()
  @IsInt(WINDOW_SIZE_RULE)
  @Min(1, WINDOW_SIZE_RULE)
  @Max(MAX_WINDOW_DIMENSION, WINDOW_SIZE_RULE)
  cols?: number | null;

  @IsOptional()
  @IsInt(WINDOW_SIZE_RULE)
  @Min(1, WINDOW_SIZE_RULE)
  @Max(MAX_WINDOW_DIMENSION, WINDOW_SIZE_RULE)
  rows?: number | null;
}

/** `ssh_input {input}`: keystrokes; refused whole when too long, so none of it reaches the shell. */
export class SshInputDto {
  @MaxLength(MAX_INPUT_CHARS, { message: `input is longer than ${MAX_INPUT_CHARS} characters` })
  // Checked first: class-validator runs a property's rules bottom-up, and stops at the first broken one.
  @IsString({ message: 'input must be a string' })
  input: string;
}

/** `ssh_resize {cols, rows}`: both required. */
export class SshResizeDto {
  @IsInt(WINDOW_SIZE_RULE)
  @Min(1, WINDOW_SIZE_RULE)
  @Max(MAX_WINDOW_DIMENSION, WINDOW_SIZE_RULE)
  cols: number;

  @IsInt(WINDOW_SIZE_RULE)
  @Min(1, WINDOW_SIZE_RULE)
  @Max(MAX_WINDOW_DIMENSION, WINDOW_SIZE_RULE)
  rows: number;
}
