/* fuzz_results_jsonl.c - the results reader on JSON Lines (fuzz_results.h). */
#include "fuzz_results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) { return fuzz_results_file(data, len); }
