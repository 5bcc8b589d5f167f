import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { ValidationDetail } from '../../common/dto/responses.dto';

/**
 * Checks what the proxy relies on — a `messages` array of `{role, content}` objects, and the types of `model`
 * and `stream` — and leaves every other field alone, since model servers accept extensions (`top_k`, …).
 */
@Injectable()
export class ChatRequestPipe implements PipeTransform<unknown, Record<string, unknown>> {
  transform(body: unknown): Record<string, unknown> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw invalid([{ field: 'body', messages: ['the body must be a JSON object'] }]);
    }
    const request = body as Record<string, unknown>;
    const details: ValidationDetail[] = [];
    const { messages, model, stream } = request;
    if (!Array.isArray(messages) || messages.length === 0) {
      details.push({ field: 'messages', messages: ['messages must be a non-empty array'] });
    } else {
      messages.forEach((message, index) => {
        const role = (message as { role?: unknown } | null)?.role;
        if (message === null || typeof message !== 'object' || typeof role !== 'string' || role === '') {
          details.push({ field: `messages.${index}`, messages: ['each message must be an object with a string role'] });
        }
      });
    }
    if (model !== undefined && model !== null && typeof model !== 'string') {
      details.push({ field: 'model', messages: ['model must be a string'] });
    }
    if (stream !== undefined && stream !== null && typeof stream !== 'boolean') {
      details.push({ field: 'stream', messages: ['stream must be a boolean'] });
    }
    if (details.length > 0) throw invalid(details);
    return request;
  }
}

function invalid(details: ValidationDetail[]): BadRequestException {
  const summary = details.map((detail) => detail.messages.join(', ')).join('; ');
  return new BadRequestException({ message: `Validation failed: ${summary}`, details });
}
