import { BadRequestException, Injectable, NotFoundException, PipeTransform } from '@nestjs/common';
import { MAX_INT32 } from '../decorators/fields';

/**
 * Route ids: a positive integer. A well-formed id too large for the id columns cannot exist, so it
 * is a 404 rather than a database error.
 */
@Injectable()
export class ParseIdPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    if (!/^\d{1,20}$/.test(value)) throw new BadRequestException(`Invalid id '${value.slice(0, 32)}': expected a positive integer`);
    const id = Number(value);
    if (id < 1 || id > MAX_INT32) throw new NotFoundException(`No resource with id ${value}`);
    return id;
  }
}
