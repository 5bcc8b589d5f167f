import { Body, Controller, Delete, Get, Param, Post, Put } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/decorators/api-errors.decorator';
import { CreatedResponse, MessageResponse } from '../../common/dto/responses.dto';
import { ParseIdPipe } from '../../common/pipes/parse-id.pipe';
import { RequiresRole } from './access.decorators';
import { CreateUserDto, UpdateUserDto, UserResponse } from './dto/auth.dto';
import { UsersService } from './users.service';

@ApiTags('users')
@Controller('users')
@RequiresRole('admin')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  /** Lists users in the order they were created; never their passwords. */
  @Get()
  @ApiOkResponse({ type: [UserResponse] })
  listUsers(): Promise<UserResponse[]> {
    return this.users.list();
  }

  /** Creates a user with a role; usernames are unique regardless of case (409). */
  @Post()
  @ApiCreatedResponse({ type: CreatedResponse })
  @ApiErrors(400, 409)
  async createUser(@Body() dto: CreateUserDto): Promise<CreatedResponse> {
    const user = await this.users.create(dto);
    return { id: user.id, message: 'User created successfully' };
  }

  /** Updates a user; fields left out keep their values. The last enabled admin cannot be demoted or disabled (409). */
  @Put(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async updateUser(@Param('id', ParseIdPipe) id: number, @Body() dto: UpdateUserDto): Promise<MessageResponse> {
    await this.users.update(id, dto);
    return { message: 'User updated successfully' };
  }

  /** Deletes a user and their API tokens; the last enabled admin cannot be deleted (409). */
  @Delete(':id')
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(400, 404, 409)
  async deleteUser(@Param('id', ParseIdPipe) id: number): Promise<MessageResponse> {
    await this.users.delete(id);
    return { message: 'User deleted successfully' };
  }
}
