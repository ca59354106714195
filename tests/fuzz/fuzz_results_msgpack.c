/* fuzz_results_msgpack.c - the results reader on msgpack (fuzz_results.h). */
#include "fuzz_results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) { return fuzz_results_file(data, len); }
