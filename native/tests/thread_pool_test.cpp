// The thread pool under the conditions that made OpenBLAS's pool collapse, as bounded smoke tests (ctest
// kills the program after its TIMEOUT; no timing is asserted here, the timings are in bench_cpu):
// - training the reference network (784-128-10, batch 32) with 4 threads requested on this machine while
//   another thread burns a core: it finishes, and its weights equal the 1-thread run bit for bit;
// - several threads running inference at once on networks sharing one parameter buffer (only one can use the
//   pool at a time; the others run serially): every output equals the serial one;
// - the thread count changed over and over (1, 2, 4, one per core) while another thread trains: training
//   finishes with the weights of the 1-thread run;
// - more threads than CPUs, and every count from 1 to 8, on a product that is split: same bits;
// - a worker put on the caller's CPU (as a scheduler sometimes does) is moved to another CPU by the pool instead
//   of the pool falling back to serial.
#include <dirent.h>
#include <sched.h>
#include <cstdlib>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include "net_util.h"

struct RefNet {
    Problem pb;
    std::vector<int32_t> order;
    NativeNet nn;
    RefNet(int rows, uint64_t seed) {
        t::Rng rng(seed);
        pb.make(rng, rows, 784, 10, D4J_LOSS_SPARSE_CCE);
        for (auto& v : pb.x) v = v < 0 ? 0.0f : v;  // pixel-like: non-negative, many zeros
        nn.create({784, 128, 10}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {}, D4J_LOSS_SPARSE_CCE, 32, D4J_OPT_ADAM,
                  {0.9f, 0.999f, 1e-7f, 0, 0}, rng);
        order = permutation(rng, rows);
    }
    int train(int steps) {
        std::vector<float> lrs(steps, 1e-3f);
        int64_t step = 0;
        return d4j_net_train(nn.net, pb.x.data(), pb.labels.data(), nullptr, order.data(), pb.N, 0, 32, steps,
                             lrs.data(), &step, 5, nullptr);
    }
};

static std::vector<float> train_params(int threads, int steps, bool burn) {
    d4j_set_num_threads(threads);
    std::atomic<bool> stop{false};
    std::thread burner;
    if (burn) burner = std::thread([&] {
        volatile uint64_t x = 0;
        while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
    });
    RefNet r(steps * 32, 17);
    const int rc = r.train(steps);
    stop = true;
    if (burner.joinable()) burner.join();
    t::expect(rc == D4J_OK, "train rc " + std::to_string(rc) + " at " + std::to_string(threads) + " threads");
    d4j_set_num_threads(1);
    return r.nn.params;
}

static void contention() {
    const int steps = 400;
    const auto p1 = train_params(1, steps, false);
    int64_t before[6], after[6];
    d4j_thread_stats(before);
    const auto p4 = train_params(4, steps, true);
    d4j_thread_stats(after);
    t::expect(p4 == p1, "4 threads with a core taken: weights differ from 1 thread");
    std::printf("thread_pool_test: 4 threads with a busy core: %lld parallel regions, %lld serial (parallel measured "
                "slower, or measuring serial), %lld switches to serial, %lld waits for a descheduled worker, %lld "
                "regions no worker joined\n",
                (long long)(after[0] - before[0]), (long long)(after[1] - before[1]), (long long)(after[3] - before[3]),
                (long long)(after[4] - before[4]), (long long)(after[5] - before[5]));
    const auto p2 = train_params(2, steps, true);
    t::expect(p2 == p1, "2 threads with a core taken: weights differ from 1 thread");
}

static void concurrent_inference() {
    const int n = 256, in = 784, out = 10;
    t::Rng rng(23);
    RefNet r(n, 29);
    auto x = rng.vec((size_t)n * in, 0, 1);
    auto forward = [&](std::vector<float>& y) {
        d4j_net* inf = d4j_net_create(2, r.nn.sizes.data(), r.nn.acts.data(), nullptr, D4J_LOSS_SPARSE_CCE, n,
                                      r.nn.params.data(), nullptr, 0, nullptr, nullptr, 0, 0);
        y.assign((size_t)n * out, NAN);
        const int rc = inf ? d4j_net_forward(inf, x.data(), n, y.data(), nullptr, nullptr, nullptr) : -1;
        d4j_net_destroy(inf);
        return rc;
    };
    d4j_set_num_threads(1);
    std::vector<float> serial;
    t::expect(forward(serial) == D4J_OK, "serial forward");
    d4j_set_num_threads(2);
    std::atomic<int> bad{0};
    std::vector<std::thread> th;
    for (int i = 0; i < 4; i++)
        th.emplace_back([&] {
            for (int rep = 0; rep < 50; rep++) {
                std::vector<float> y;
                if (forward(y) != D4J_OK || std::memcmp(y.data(), serial.data(), y.size() * 4) != 0) bad++;
            }
        });
    for (auto& t : th) t.join();
    t::expect(bad == 0, "concurrent inference: " + std::to_string(bad.load()) + " of 200 outputs differ from serial");
    d4j_set_num_threads(1);
}

static void changing_thread_count() {
    const int steps = 300;
    const auto p1 = train_params(1, steps, false);
    RefNet r(steps * 32, 17);
    std::atomic<bool> done{false};
    int rc = -1;
    std::thread trainer([&] {
        rc = r.train(steps);
        done = true;
    });
    const int counts[] = {2, 1, 4, 0, 3, 2};
    for (int i = 0; !done; i++) {
        d4j_set_num_threads(counts[i % 6]);
        std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    trainer.join();
    t::expect(rc == D4J_OK && r.nn.params == p1, "thread count changed during training: rc or weights differ");
    d4j_set_num_threads(1);
}

static void every_count() {
    const int n = 64, in = 300, out = 500;
    t::Rng rng(31);
    auto x = rng.vec((size_t)n * in), w = rng.vec((size_t)in * out), b = rng.vec(out), dz = rng.vec((size_t)n * out);
    std::vector<float> y1, dw1, dx1;
    for (int threads = 1; threads <= 8; threads++) {
        d4j_set_num_threads(threads);
        std::vector<float> y((size_t)n * out), dw((size_t)in * out), db(out), dx((size_t)n * in);
        d4j_dense_forward(x.data(), w.data(), b.data(), nullptr, y.data(), n, in, out, D4J_ACT_RELU);
        d4j_dense_backward(x.data(), w.data(), dz.data(), dw.data(), db.data(), dx.data(), n, in, out);
        if (threads == 1) { y1 = y; dw1 = dw; dx1 = dx; continue; }
        t::expect(y == y1 && dw == dw1 && dx == dx1, std::to_string(threads) + " threads: results differ from 1");
    }
    d4j_set_num_threads(1);
}

// The thread id of the pool's worker 1 (its name is d4j-pool-1), or 0.
static int worker_tid() {
    DIR* d = opendir("/proc/self/task");
    int found = 0;
    for (dirent* e; d && !found && (e = readdir(d));) {
        std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
        std::string name;
        if (e->d_name[0] != '.' && comm && std::getline(comm, name) && name == "d4j-pool-1") found = std::atoi(e->d_name);
    }
    if (d) closedir(d);
    return found;
}

static void colocated_worker_separated() {
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2) {
        std::printf("thread_pool_test: colocated worker: skipped (fewer than 2 CPUs)\n");
        return;
    }
    d4j_set_num_threads(1);
    d4j_set_num_threads(2);  // a new worker, pinned away from the caller for its first 0.3 s
    RefNet warm(64 * 32, 41);
    warm.train(64);
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    // the worker must wake once more after its pin ended (it then gives itself every CPU back): train until
    // regions have run in parallel again (the pool may be serial for a while on a busy machine)
    int64_t s0[6], s1[6];
    d4j_thread_stats(s0);
    for (int i = 0; i < 200; i++) {
        warm.train(8);
        d4j_thread_stats(s1);
        if (s1[0] - s0[0] >= 20) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const int tid = worker_tid();
    t::expect(tid > 0, "colocated worker: no thread named d4j-pool-1");
    int cpu0 = 0;
    while (!CPU_ISSET(cpu0, &all)) cpu0++;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu0, &one);
    const bool pinned = tid > 0 && sched_setaffinity(0, sizeof one, &one) == 0 && sched_setaffinity(tid, sizeof one, &one) == 0;
    t::expect(pinned, "colocated worker: could not pin the caller and the worker to one CPU");
    if (pinned) {
        RefNet r(800 * 32, 43);
        t::expect(r.train(800) == D4J_OK, "colocated worker: train");
        cpu_set_t now;
        CPU_ZERO(&now);
        t::expect(sched_getaffinity(tid, sizeof now, &now) == 0 && !(CPU_COUNT(&now) == 1 && CPU_ISSET(cpu0, &now)),
                  "colocated worker: the pool left its worker on the caller's CPU");
    }
    sched_setaffinity(0, sizeof all, &all);
    d4j_set_num_threads(1);
}

int main() {
    contention();
    concurrent_inference();
    changing_thread_count();
    every_count();
    colocated_worker_separated();
    return t::finish("thread_pool_test");
}
