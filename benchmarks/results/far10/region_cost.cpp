// Cost of one parallel region of 2 chunks with ~W ns of private work each, at 2 threads, per call (median of blocks)
// build: g++ -O2 -std=c++17 -Inative/cpu -Inative/include benchmarks/results/far10/region_cost.cpp native/cpu/thread_pool.cpp -o /tmp/rc -lpthread
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <vector>
#include "thread_pool.h"
namespace {
struct Ctx { int spin; double sink[2][8]; };
void run(void* p, int c) {
    Ctx& x = *static_cast<Ctx*>(p);
    double a = c + 1.0;
    for (int i = 0; i < x.spin; i++) a = a * 1.0000001 + 1e-9;
    x.sink[c][0] = a;
}
}
int main(int argc, char** argv) {
    const int spin = argc > 1 ? std::atoi(argv[1]) : 2000;
    d4j::pool_set_threads(2);
    Ctx x{spin, {}};
    for (int threads : {1, 2}) {
        d4j::pool_set_threads(threads);
        std::vector<double> blocks;
        for (int b = 0; b < 40; b++) {
            auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < 1000; i++) d4j::parallel(d4j::Region{run, &x, 2, nullptr, 1e7});
            blocks.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 1000);
        }
        std::sort(blocks.begin(), blocks.end());
        std::printf("threads %d: region of 2 chunks (spin %d): median %.2f us, p10 %.2f\n", threads, spin, blocks[20], blocks[4]);
    }
}
