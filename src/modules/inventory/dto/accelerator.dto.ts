import { AcceptsReadOnlyFields, OptionalText, RequiredText } from '../../../common/decorators/fields';
import { UpdateType } from '../../../common/dto/update-type';

export class AcceleratorResponse {
  id: number;
  brand_id: number;
  name: string;
  model: string;
  memory: string | null;
  fp8_perf: string | null;
  int8_perf: string | null;
  bf16_perf: string | null;
  fp16_perf: string | null;
  fp32_perf: string | null;
  interconnect_bandwidth: string | null;
  created_at: Date;
}

/** An accelerator card's specification; figures are free text such as `80GB` or `989 TFLOPS`. */
@AcceptsReadOnlyFields('id', 'brand_id', 'created_at')
export class CreateAcceleratorDto {
  @RequiredText()
  name: string;

  @RequiredText()
  model: string;

  @OptionalText() memory?: string | null;
  @OptionalText() fp8_perf?: string | null;
  @OptionalText() int8_perf?: string | null;
  @OptionalText() bf16_perf?: string | null;
  @OptionalText() fp16_perf?: string | null;
  @OptionalText() fp32_perf?: string | null;
  @OptionalText() interconnect_bandwidth?: string | null;
}

/** Fields left out keep their stored values. */
export class UpdateAcceleratorDto extends UpdateType(CreateAcceleratorDto) {}
