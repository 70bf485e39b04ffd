// Thread count of the CPU path. Our own loops are single-threaded on purpose (a 32-row batch is far too
// small to split), so the only pool is OpenBLAS's: one setting controls all of it.
#include "dense4j.h"
#include <cblas.h>

extern "C" void d4j_set_num_threads(int n) {
    openblas_set_num_threads(n);  // n <= 0: OpenBLAS picks one thread per core
}

extern "C" int d4j_get_num_threads(void) {
    return openblas_get_num_threads();
}
