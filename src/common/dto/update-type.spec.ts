import { ApiProperty, ApiPropertyOptional, DECORATORS } from '@nestjs/swagger';
import { UpdateType } from './update-type';

class CreateThingDto {
  @ApiProperty({ minLength: 1 })
  name: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, default: 22, description: 'Port' })
  port?: number;
}

class UpdateThingDto extends UpdateType(CreateThingDto) {}

const metadataOf = (type: { prototype: object }, property: string) => Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES, type.prototype, property);

describe('UpdateType', () => {
  it('makes every field optional and drops the defaults, keeping the rest of each field', () => {
    expect(metadataOf(UpdateThingDto, 'name')).toMatchObject({ minLength: 1, required: false });
    expect(metadataOf(UpdateThingDto, 'port')).toMatchObject({ type: 'integer', minimum: 1, description: 'Port', required: false });
    expect(metadataOf(UpdateThingDto, 'port')).not.toHaveProperty('default');
  });

  it('leaves the create DTO its default', () => {
    expect(metadataOf(CreateThingDto, 'port')).toMatchObject({ default: 22 });
  });
});
