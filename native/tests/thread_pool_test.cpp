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
//   of the pool falling back to serial;
// - a worker whose CPU another thread holds: the pool backs off to serial, and the weights are the 1-thread run's;
// - private teams (d4j_set_caller_threads): two threads training at once, each on its own team of 2, never
//   serial because of the other and with the 1-thread weights; the workers end on 0 and with the thread, over
//   many cycles (counted in /proc/self/task).
#include <dirent.h>
#include <sched.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
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

// Threads of this process now (the pools' workers included).
static int os_threads() {
    DIR* d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

// The thread count once exiting threads are gone (an ended thread may linger for a moment after its join).
static int settled_threads(int want) {
    int n = os_threads();
    for (int i = 0; i < 200 && n != want; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        n = os_threads();
    }
    return n;
}

static int allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    return sched_getaffinity(0, sizeof set, &set) == 0 ? std::max(1, CPU_COUNT(&set)) : 1;
}

static void caller_teams() {
    const int steps = 200;
    const auto p1 = train_params(1, steps, false);
    d4j_set_num_threads(1);
    const int base = os_threads();
    const int team2 = std::min(2, allowed_cpus());

    // two callers at once, each with its own team
    struct Job {
        std::vector<float> params;
        int64_t stats[6] = {};
        int team = 0, rc = -1;
    } jobs[2];
    std::vector<std::thread> th;
    for (auto& j : jobs)
        th.emplace_back([&j, steps] {
            d4j_set_caller_threads(2);
            j.team = d4j_get_num_threads();
            RefNet r(steps * 32, 17);
            j.rc = r.train(steps);
            d4j_thread_stats(j.stats);
            j.params = r.nn.params;
            // the thread ends with its team still set: its workers end with it
        });
    for (auto& t : th) t.join();
    for (int i = 0; i < 2; i++) {
        const Job& j = jobs[i];
        const std::string who = "private team " + std::to_string(i) + ": ";
        t::expect(j.rc == D4J_OK && j.params == p1, who + "rc or weights differ from the 1-thread run");
        t::expect(j.team == 2, who + "d4j_get_num_threads " + std::to_string(j.team) + ", not 2");
        t::expect(j.stats[2] == 0, who + std::to_string(j.stats[2]) + " regions went serial for another thread");
        if (team2 == 2) t::expect(j.stats[0] > 0, who + "no region ran in parallel");
        std::printf("thread_pool_test: private team %d: %lld parallel regions, %lld serial, %lld busy, %lld switches "
                    "to serial\n", i, (long long)j.stats[0], (long long)j.stats[1], (long long)j.stats[2],
                    (long long)j.stats[3]);
    }
    t::expect(settled_threads(base) == base, "private teams' workers outlived their threads: " +
              std::to_string(os_threads()) + " threads, " + std::to_string(base) + " before");

    // set and freed on this thread; a product on the team equals the shared pool's
    const int n = 64, in = 300, out = 500;
    t::Rng rng(37);
    auto x = rng.vec((size_t)n * in), w = rng.vec((size_t)in * out), b = rng.vec(out);
    std::vector<float> y1((size_t)n * out), y3((size_t)n * out);
    d4j_dense_forward(x.data(), w.data(), b.data(), nullptr, y1.data(), n, in, out, D4J_ACT_RELU);
    d4j_set_caller_threads(3);
    const int team3 = std::min(3, allowed_cpus());
    t::expect(d4j_get_caller_threads() == 3 && d4j_get_num_threads() == 3, "caller threads not reported as 3");
    t::expect(os_threads() == base + team3 - 1, "a team of 3: " + std::to_string(os_threads() - base) +
              " workers, expected " + std::to_string(team3 - 1));
    d4j_dense_forward(x.data(), w.data(), b.data(), nullptr, y3.data(), n, in, out, D4J_ACT_RELU);
    t::expect(y3 == y1, "a private team's product differs from the shared pool's");
    d4j_set_caller_threads(0);
    t::expect(d4j_get_caller_threads() == 0 && d4j_get_num_threads() == 1, "back on the shared pool");
    t::expect(os_threads() == base, "d4j_set_caller_threads(0) left workers: " + std::to_string(os_threads() - base));

    // many cycles, on short-lived threads and on this one: no thread is leaked
    std::atomic<int> bad{0};
    for (int cycle = 0; cycle < 100; cycle++) {
        std::thread([&, cycle] {
            d4j_set_caller_threads(1 + cycle % 3);
            std::vector<float> y((size_t)n * out);
            d4j_dense_forward(x.data(), w.data(), b.data(), nullptr, y.data(), n, in, out, D4J_ACT_RELU);
            if (y != y1) bad++;
            if (cycle % 2) d4j_set_caller_threads(0);
        }).join();
        d4j_set_caller_threads(2);
        d4j_set_caller_threads(cycle % 4 == 0 ? 3 : 0);
    }
    d4j_set_caller_threads(0);
    t::expect(bad == 0, "cycles: " + std::to_string(bad.load()) + " products differ");
    t::expect(settled_threads(base) == base, "after 100 team cycles: " + std::to_string(os_threads()) +
              " threads, " + std::to_string(base) + " before");
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

// The worker's CPU held by another thread (pinned there with it; the caller on another CPU): the worker waits for
// its CPU, which its run-queue delay shows, so the pool must back off to serial (D4J_POOL_TRACE=1 says why) and the
// weights must still be the 1-thread run's.
static void worker_cpu_held() {
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2) {
        std::printf("thread_pool_test: worker's CPU held: skipped (fewer than 2 CPUs)\n");
        return;
    }
    const int steps = 1200;
    const auto p1 = train_params(1, steps, false);
    d4j_set_num_threads(2);
    RefNet warm(64 * 32, 47);
    warm.train(64);
    std::this_thread::sleep_for(std::chrono::milliseconds(350));  // the new worker's own first pin has ended
    warm.train(64);
    const int tid = worker_tid();
    t::expect(tid > 0, "worker's CPU held: no thread named d4j-pool-1");
    int cpu[2] = {-1, -1};
    for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
        if (CPU_ISSET(c, &all)) cpu[k++] = c;
    cpu_set_t held, other;
    CPU_ZERO(&held);
    CPU_SET(cpu[0], &held);
    CPU_ZERO(&other);
    CPU_SET(cpu[1], &other);
    std::atomic<bool> stop{false}, burner_placed{false};  // placed: its pin was tried (it spins either way)
    std::thread burner([&] {
        sched_setaffinity(0, sizeof held, &held);
        burner_placed = true;
        volatile uint64_t x = 0;
        while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
    });
    while (!burner_placed.load()) std::this_thread::yield();
    const bool pinned = tid > 0 && sched_setaffinity(0, sizeof other, &other) == 0 &&
                        sched_setaffinity(tid, sizeof held, &held) == 0;
    t::expect(pinned, "worker's CPU held: could not pin the caller, the worker and the burner");
    if (pinned) {
        int64_t before[6], after[6];
        d4j_thread_stats(before);
        RefNet r(steps * 32, 17);
        t::expect(r.train(steps) == D4J_OK, "worker's CPU held: train");
        d4j_thread_stats(after);
        t::expect(r.nn.params == p1, "worker's CPU held: weights differ from 1 thread");
        t::expect(after[3] - before[3] >= 1, "worker's CPU held: the pool never backed off to serial");
        std::printf("thread_pool_test: worker's CPU held: %lld parallel regions, %lld serial, %lld switches to serial, "
                    "%lld waits for a descheduled worker\n",
                    (long long)(after[0] - before[0]), (long long)(after[1] - before[1]),
                    (long long)(after[3] - before[3]), (long long)(after[4] - before[4]));
    }
    stop = true;
    burner.join();
    sched_setaffinity(0, sizeof all, &all);
    d4j_set_num_threads(1);
}

int main() {
    contention();
    concurrent_inference();
    changing_thread_count();
    every_count();
    caller_teams();
    colocated_worker_separated();
    worker_cpu_held();
    return t::finish("thread_pool_test");
}
