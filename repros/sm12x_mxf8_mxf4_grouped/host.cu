// host.cu: main() of the per_arch build layout (README "Build structure"): compiled once, with a
// -gencode for every arch of the cell; it dispatches to the unit registered for the running GPU.
#include "kit_units_host.h"

int main(int argc, char** argv) { return kit::units::host_main(argc, argv); }
