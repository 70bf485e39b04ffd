// Thread count of the CPU path. Our own loops are single-threaded on purpose (a 32-row batch is far too
// small to split), so the only pool is OpenBLAS's: one setting controls all of it.
#include "dense4j.h"
#include <cblas.h>

extern "C" void d4j_set_num_threads(int n) {
    // OpenBLAS keeps its current count for n < 1; the contract says "one per core".
    openblas_set_num_threads(n > 0 ? n : openblas_get_num_procs());
}

extern "C" int d4j_get_num_threads(void) {
    return openblas_get_num_threads();
}
