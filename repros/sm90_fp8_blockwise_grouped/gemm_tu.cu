// gemm_tu.cu: one per-arch unit of the per_arch build layout (README "Build structure"). kit compiles it once
// per arch of the cell with only that arch's -gencode and -DKIT_TU_ARCH=<digits>; like FlashInfer's generated
// per-arch sources including the launcher header, it is main.cu itself, with main() replaced by a registration.
#define KIT_AS_UNIT
#include "main.cu"
