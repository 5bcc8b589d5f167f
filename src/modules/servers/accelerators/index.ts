import { AcceleratorTool } from './accelerator-metrics';
import { ASCEND_NPU_SMI } from './ascend';
import { CAMBRICON_CNMON } from './cambricon';
import { ENFLAME_EFSMI } from './enflame';
import { ILUVATAR_IXSMI } from './iluvatar';
import { KUNLUNXIN_XPU_SMI, KUNLUNXIN_XPU_SMI_LEGACY } from './kunlunxin';
import { METAX_MX_SMI } from './metax';
import { MOORETHREADS_GMI } from './moorethreads';
import { NVIDIA_SMI } from './nvidia';
import { AMD_ROCM_SMI, HYGON_HY_SMI } from './rocm';

/** Every tool the resource probe looks for, in the order their cards are listed. */
export const ACCELERATOR_TOOLS: readonly AcceleratorTool[] = [
  NVIDIA_SMI,
  ASCEND_NPU_SMI,
  CAMBRICON_CNMON,
  HYGON_HY_SMI,
  AMD_ROCM_SMI,
  METAX_MX_SMI,
  ILUVATAR_IXSMI,
  MOORETHREADS_GMI,
  KUNLUNXIN_XPU_SMI,
  KUNLUNXIN_XPU_SMI_LEGACY,
  ENFLAME_EFSMI,
];
