import { Body, Controller, Get, Param, Post, Res, UseFilters } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ChatCompletionRequest, CompletionRequest, EmbeddingRequest, OpenAiModel, OpenAiModelList } from '../chat/dto/openai.dto';
import { ApiOpenAiErrors } from '../chat/openai-errors';
import { OpenAiExceptionFilter } from '../chat/openai-exception.filter';
import { ChatCompletionRequestPipe, CompletionRequestPipe, EmbeddingRequestPipe } from '../chat/openai-request.pipes';
import { jsonOrEvents, OPENAI_JSON_OBJECT } from '../chat/openai.controller';
import type { Principal } from '../../common/request-context';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { GatewayService } from './gateway.service';

/**
 * One OpenAI-compatible base URL for every deployed model (an `openai` client's baseURL is `<backend>/v1`, its apiKey
 * an API token): each request goes by its `model` to the deployed services of that model — every server of them a
 * replica, the one with the fewest requests in flight first; a replica that refuses or does not accept the connection
 * is skipped for GATEWAY_COOLDOWN_SECONDS and the request goes to the next, as nothing has been sent yet. The answer
 * is relayed as the per-service proxy relays it (streams included). Chat history is not stored for these calls; each
 * is counted in the usage (`GET /api/usage`) per day, caller, token and model, within the token's per-minute limits.
 * A viewer's token lists the models but cannot send completions (it spends GPU time: operators and admins may).
 */
@ApiTags('gateway')
@UseFilters(OpenAiExceptionFilter)
@Controller('v1')
export class GatewayController {
  constructor(private readonly gateway: GatewayService) {}

  /** Chat completions of any deployed model, routed by `model`. */
  @Post('chat/completions')
  @ApiBody({ type: ChatCompletionRequest })
  @ApiOkResponse(jsonOrEvents('A chat.completion object, or with `stream: true` its chat.completion.chunk events'))
  @ApiOpenAiErrors(400, 401, 403, 404, 429, 502, 504)
  createGatewayChatCompletion(
    @CurrentPrincipal() principal: Principal,
    @Body(ChatCompletionRequestPipe) body: Record<string, unknown>,
    @Res() response: Response,
  ): Promise<void> {
    return this.gateway.relay(principal, '/chat/completions', body, response);
  }

  /** Text completions of any deployed model, routed by `model`. */
  @Post('completions')
  @ApiBody({ type: CompletionRequest })
  @ApiOkResponse(jsonOrEvents('A text_completion object, or with `stream: true` its chunks as events'))
  @ApiOpenAiErrors(400, 401, 403, 404, 429, 502, 504)
  createGatewayCompletion(
    @CurrentPrincipal() principal: Principal,
    @Body(CompletionRequestPipe) body: Record<string, unknown>,
    @Res() response: Response,
  ): Promise<void> {
    return this.gateway.relay(principal, '/completions', body, response);
  }

  /** Embeddings from any deployed model, routed by `model`. */
  @Post('embeddings')
  @ApiBody({ type: EmbeddingRequest })
  @ApiOkResponse({ description: 'A list of embeddings', content: { 'application/json': { schema: OPENAI_JSON_OBJECT } } })
  @ApiOpenAiErrors(400, 401, 403, 404, 429, 502, 504)
  createGatewayEmbedding(
    @CurrentPrincipal() principal: Principal,
    @Body(EmbeddingRequestPipe) body: Record<string, unknown>,
    @Res() response: Response,
  ): Promise<void> {
    return this.gateway.relay(principal, '/embeddings', body, response);
  }

  /** The models routable now: those of the deployed services. */
  @Get('models')
  @ApiOkResponse({ type: OpenAiModelList })
  @ApiOpenAiErrors(401)
  listGatewayModels(): Promise<OpenAiModelList> {
    return this.gateway.models();
  }

  /** One routable model. */
  @Get('models/:model')
  @ApiOkResponse({ type: OpenAiModel })
  @ApiOpenAiErrors(401, 404)
  retrieveGatewayModel(@Param('model') model: string): Promise<OpenAiModel> {
    return this.gateway.model(model);
  }
}
