// The fork-join pool of the CPU kernels, built so that asking for threads is never a trap.
//
// Why not OpenBLAS's pool: its idle workers spin for ~0.1 s and its caller waits in a pure spin loop, so when
// another process holds a core a spinning thread burns the time slice of the one it waits for (the reference
// workload took 20x longer at 2 threads than at 1 with one busy process). This pool follows the measurements
// in ../shared/docs/cpu-kernels.md section 5:
// - The caller works too and never waits for a worker to ARRIVE: a region's chunks are split into one range
//   per thread, each claimed with a CAS on that thread's own cache line; a thread that runs out takes chunks
//   from the far end of the others' ranges. A worker that wakes late finds its range already done by the
//   caller and costs nothing. The caller only waits for chunks a worker has started.
// - Idle workers spin (with pause) for a bounded time, D4J_SPIN_US (default 50 us: the gaps between regions
//   inside a training step are a few us), then park on a futex; the caller makes the wake-up syscall only when
//   a worker is parked. A caller waiting for a started chunk spins 50 us, then sleeps on a futex too, so that
//   its core goes idle and the scheduler can move a descheduled worker onto it.
// - Threads are used only while they are measured to pay: the caller times its regions per unit of work in
//   windows of 2 ms, parallel and serial, and runs serially (workers parked) for 20 ms .. 0.5 s whenever
//   parallel is not at least 1.18x faster (see account()). Another process holding a core, a CPU quota: both
//   show up as slow parallel windows with the workers waiting on a run queue, so asking for threads costs about
//   what one thread costs at worst. A worker found on the caller's CPU is moved to another CPU instead, and a
//   window slowed by neither (a late wake-up) is judged over a longer horizon, so that the pool does not lock
//   itself serial on a quiet machine. A caller that has to sleep for a worker descheduled in a chunk (far
//   longer than the largest chunk takes at the caller's own pace) switches to serial at once when the worker's
//   run-queue delay confirms it.
// - One region at a time: a second thread that calls in while a region runs (concurrent predicts) runs its
//   region serially on its own thread, instead of queueing behind the first.
// - Claim words carry the region's generation (they are never reset to zero), so a worker delayed across
//   regions cannot claim a chunk of a region it did not see start.
// - Workers take the caller's floating-point mode (MXCSR: flush-to-zero during training) for each region, so
//   every chunk computes the same bits whichever thread runs it.
// The team never has more threads than CPUs this process may run on (more cannot speed up compute-bound
// chunks, and oversubscribing is how spinning pools collapse).
#include "thread_pool.h"
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xmmintrin.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>
#include "dense4j.h"

namespace d4j {

void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected, int64_t timeout_ns) {
    timespec ts{(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, timeout_ns > 0 ? &ts : nullptr,
            nullptr, 0);
}
void futex_wake(std::atomic<uint32_t>* addr, int n) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

namespace {

thread_local bool in_serial = false;  // the calling thread is running a region's chunks alone (Pool::serial)

constexpr int MAX_THREADS = 256;

inline void cpu_relax() { _mm_pause(); }

inline int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int cpus_available() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int64_t env_int(const char* name, int64_t dflt, int64_t lo, int64_t hi) {
    const char* v = std::getenv(name);
    if (!v || !*v) return dflt;
    char* end = nullptr;
    const long long x = std::strtoll(v, &end, 10);
    if (!end || *end) return dflt;
    return std::min<int64_t>(hi, std::max<int64_t>(lo, x));
}

// claim word: generation (32 bits) | next chunk (16) | end (16)
inline uint64_t pack(uint32_t gen, int lo, int hi) { return (uint64_t)gen << 32 | (uint64_t)lo << 16 | (uint64_t)hi; }

struct alignas(64) Slot {
    std::atomic<uint64_t> word{0};
};

class Pool {
public:
    Pool() : spin_ns_(env_int("D4J_SPIN_US", 50, 0, 100000) * 1000) {}

    void set_threads(int requested) {
        std::lock_guard<std::mutex> busy(busy_);  // no region is running while the team changes
        const int req = requested > 0 ? requested : cpus_available();
        requested_.store(req, std::memory_order_relaxed);
        const int team = std::max(1, std::min({req, cpus_available(), MAX_THREADS}));
        if (team != team_.load(std::memory_order_relaxed)) {  // rare: stop every worker, start the new team
            stop_workers();
            team_.store(team, std::memory_order_relaxed);
            const uint32_t g = gen_.load(std::memory_order_relaxed);  // a worker may start after later regions
            // Workers are born with every signal blocked (the mask is inherited), so that the JVM's
            // process-directed signals are delivered to its own threads, never to ours.
            sigset_t all, saved;
            sigfillset(&all);
            pthread_sigmask(SIG_SETMASK, &all, &saved);
            can_pin_ = sched_getaffinity(0, sizeof allowed_, &allowed_) == 0 && CPU_COUNT(&allowed_) >= 2;
            const int caller_cpu = sched_getcpu();
            for (int id = 1; id < team; id++) {
                WorkerInfo& w = info_[id];
                w.tid.store(0, std::memory_order_relaxed);
                w.cpu.store(-1, std::memory_order_relaxed);
                w.unpin_at.store(0, std::memory_order_relaxed);
                w.schedstat.store(-1, std::memory_order_relaxed);
                workers_.emplace_back([this, id, g, caller_cpu] {
                    char name[16];
                    std::snprintf(name, sizeof name, "d4j-pool-%d", id);
                    pthread_setname_np(pthread_self(), name);
                    WorkerInfo& me = info_[id];
                    const int tid = (int)syscall(SYS_gettid);
                    char path[64];
                    std::snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
                    me.schedstat.store(open(path, O_RDONLY | O_CLOEXEC), std::memory_order_release);
                    me.tid.store(tid, std::memory_order_release);
                    pin_away(id, 0, caller_cpu);
                    worker_loop(id, g);
                });
            }
            pthread_sigmask(SIG_SETMASK, &saved, nullptr);
        }
        mode_.store(PARALLEL, std::memory_order_relaxed);
        backoff_ns_ = 0;
        probing_ = false;
        rate_par_ = rate_ser_ = 0;
        separated_ns_ = INT64_MIN / 2;
        new_window();
        new_horizon();
    }

    int requested() const { return requested_.load(std::memory_order_relaxed); }
    int team_now() const {
        const int team = team_.load(std::memory_order_relaxed);
        return team == 1 || mode_.load(std::memory_order_relaxed) == SERIAL ? 1 : team;
    }

    void run(const Region& r) {
        if (r.chunks <= 0) return;
        if (team_.load(std::memory_order_relaxed) == 1 || r.chunks > MAX_CHUNKS) return serial(r);
        // too small to be split in either mode (split.h): nothing to measure, no lock to take (single-row predicts)
        if (r.chunks == 1 && r.work < SMALL_WORK) return serial(r);
        if (!busy_.try_lock()) {  // another thread's region is running: this one runs on its own thread
            stats_[STAT_BUSY].fetch_add(1, std::memory_order_relaxed);
            return serial(r);
        }
        if (win_regions_ == 0 && mode_.load(std::memory_order_relaxed) == PARALLEL) win_delay0_ = run_delay_ns();
        const int64_t t0 = now_ns();
        int64_t slept = 0;
        if (mode_.load(std::memory_order_relaxed) == PARALLEL) {
            if (r.chunks > 1) {
                slept = run_parallel(r);
                stats_[STAT_PARALLEL].fetch_add(1, std::memory_order_relaxed);
            } else {
                serial(r);
            }
        } else {
            serial(r);
            stats_[STAT_SERIAL].fetch_add(1, std::memory_order_relaxed);
        }
        const int64_t t1 = now_ns();
        account(t1 - t0, r.work, slept, t1);
        busy_.unlock();
    }

    void stats(int64_t* out) const {
        for (int i = 0; i < STAT_COUNT; i++) out[i] = stats_[i].load(std::memory_order_relaxed);
    }

private:
    enum { STAT_PARALLEL, STAT_SERIAL, STAT_BUSY, STAT_BACKOFFS, STAT_SLEPT, STAT_ALONE, STAT_COUNT };
    enum { PARALLEL = 0, SERIAL = 1 };

    static void serial(const Region& r) {
        const bool outer = in_serial;
        in_serial = true;
        for (int i = 0; i < r.chunks; i++) r.run(r.ctx, i);
        in_serial = outer;
    }

    // Whether threads pay off is measured, not assumed: the caller times its regions (wall clock, per unit of
    // work) in windows of at least WINDOW_NS, with the team and serially; the team is used only while it is at
    // least 1.18x faster (a smaller gain is not worth the cores it takes from others, and is within the noise of a
    // loaded machine). Serial is re-measured every REMEASURE_NS (one window), since the machine's load changes.
    // A parallel window that loses is explained before the pool backs off, because the three causes seen on the
    // 2-vCPU VM need different answers, and treating them alike locked whole runs serial (the worker parked,
    // the back-off doubling to 2 s, while nothing held the other core):
    // - a worker on the caller's CPU (the scheduler woke it there, or moved the caller onto it): both time-share
    //   one core while the other idles, and a parked worker never shows the load that would make the scheduler
    //   separate them. The pool pins that worker to another CPU for PIN_NS and measures again (separate()).
    // - another thread holding the worker's core (another process, the JVM's compiler threads): the worker was
    //   runnable but waiting for its CPU, which its run-queue delay (/proc/self/task/<tid>/schedstat) shows. A
    //   "hard" loss: serial for 20 ms, doubling up to HARD_BACKOFF_MAX_NS while it lasts (halving when parallel
    //   wins again), so that asking for threads costs about what one thread costs.
    // - neither (a worker that woke late, a vCPU the host held back for a few ms, parallel simply not faster for
    //   these regions): one window with such a stall says little, so these are judged over a horizon of
    //   HORIZON_NS of parallel windows, stalls included, and a loss there backs off for at most
    //   SOFT_BACKOFF_MAX_NS before measuring again.
    // A caller that had to sleep for a worker descheduled in the middle of a chunk (run_parallel) goes serial at
    // once when the worker's run-queue delay confirms it (the first of those causes is separated instead).
    void account(int64_t ns, double work, int64_t slept, int64_t now) {
        const bool parallel = mode_.load(std::memory_order_relaxed) == PARALLEL;
        if (slept > 0 && parallel) {
            stats_[STAT_SLEPT].fetch_add(1, std::memory_order_relaxed);
            if (colocated() && separate(now)) return;
            const int64_t delay = run_delay_ns();  // unknown (no schedstat): taken for a core held by another thread
            if (delay < 0 || win_delay0_ < 0 || delay - win_delay0_ >= slept / 2) {
                lose(now, true, "slept, worker waited for its CPU");
                return;
            }
            // else counted in the window below, and judged with the horizon
        }
        win_ns_ += ns;
        win_work_ += work > 0 ? work : 0;
        win_regions_++;
        if (win_ns_ < WINDOW_NS || win_regions_ < 8) return;
        const double rate = (double)win_ns_ / (win_work_ > 1 ? win_work_ : 1);
        const int64_t win_ns = win_ns_;
        const double win_work = win_work_;
        new_window();
        if (parallel) {
            hor_ns_ += win_ns;
            hor_work_ += win_work;
            rate_par_ = (double)hor_ns_ / (hor_work_ > 1 ? hor_work_ : 1);
            if (rate_ser_ > 0 && rate > WIN * rate_ser_) {  // this window lost: why?
                if (colocated() && separate(now)) return;
                const int64_t delay = run_delay_ns();
                if (delay >= 0 && win_delay0_ >= 0 && delay - win_delay0_ > win_ns / 5) {
                    lose(now, true, "lost window, worker waited for its CPU");
                    return;
                }
            }
            if (hor_ns_ < HORIZON_NS) return;
            new_horizon();
            if (rate_ser_ > 0 && rate_par_ > WIN * rate_ser_) {
                if (!(colocated() && separate(now))) lose(now, false, "lost horizon");
            } else if (rate_ser_ <= 0 || now - ser_measured_ns_ > REMEASURE_NS) {
                probing_ = true;  // one serial window, then back
                mode_.store(SERIAL, std::memory_order_relaxed);
            } else {
                backoff_ns_ /= 2;  // parallel wins: the next back-off starts shorter
            }
        } else {
            rate_ser_ = rate;
            ser_measured_ns_ = now;
            if (probing_) {
                probing_ = false;
                if (rate_par_ <= WIN * rate_ser_) mode_.store(PARALLEL, std::memory_order_relaxed);
                else if (!(colocated() && separate(now))) lose(now, false, "probe: serial faster");
            } else if (now >= serial_until_ns_) {
                mode_.store(PARALLEL, std::memory_order_relaxed);
                new_horizon();
            }
        }
        trace(now, parallel ? "window parallel" : "window serial", rate);
    }

    void new_window() {
        win_ns_ = 0;
        win_work_ = 0;
        win_regions_ = 0;
    }
    void new_horizon() {
        hor_ns_ = 0;
        hor_work_ = 0;
    }

    void lose(int64_t now, bool hard, const char* why) {
        const int64_t cap = hard ? HARD_BACKOFF_MAX_NS : SOFT_BACKOFF_MAX_NS;
        backoff_ns_ = std::min<int64_t>(std::max<int64_t>(std::min(backoff_ns_, cap) * 2, BACKOFF_MIN_NS), cap);
        serial_until_ns_ = now + backoff_ns_;
        probing_ = false;
        new_window();
        new_horizon();
        mode_.store(SERIAL, std::memory_order_relaxed);
        stats_[STAT_BACKOFFS].fetch_add(1, std::memory_order_relaxed);
        trace(now, why, 0);
    }

    // Whether a worker last woke on the CPU the caller runs on now.
    bool colocated() const {
        const int cpu = sched_getcpu();
        if (cpu < 0) return false;
        for (int id = 1, team = team_.load(std::memory_order_relaxed); id < team; id++)
            if (info_[id].cpu.load(std::memory_order_relaxed) == cpu) return true;
        return false;
    }

    // Pins every worker that last woke on the caller's CPU to another one for PIN_NS, at most once per
    // SEPARATE_GAP_NS (a scheduler that keeps putting them back together then gets the back-off); returns whether
    // it moved one, and then starts a new window.
    bool separate(int64_t now) {
        if (!can_pin_ || now - separated_ns_ < SEPARATE_GAP_NS) return false;
        const int cpu = sched_getcpu();
        bool moved = false;
        for (int id = 1, team = team_.load(std::memory_order_relaxed); id < team; id++) {
            WorkerInfo& w = info_[id];
            const int tid = w.tid.load(std::memory_order_acquire);
            if (tid <= 0 || w.cpu.load(std::memory_order_relaxed) != cpu) continue;
            if (pin_away(id, tid, cpu)) {
                w.cpu.store(-1, std::memory_order_relaxed);
                moved = true;
            }
        }
        if (!moved) return false;
        separated_ns_ = now;
        probing_ = false;
        new_window();
        new_horizon();
        mode_.store(PARALLEL, std::memory_order_relaxed);
        trace(now, "separated a worker from the caller's CPU", 0);
        return true;
    }

    // The workers' run-queue delay so far, summed (ns they were runnable but not running: their CPU was held by
    // another thread), from /proc/self/task/<tid>/schedstat; -1 when it cannot be read for every worker (a kernel
    // without it, or a worker that has not opened its file yet), so that two readings always cover the same threads.
    int64_t run_delay_ns() const {
        int64_t sum = 0;
        for (int id = 1, team = team_.load(std::memory_order_relaxed); id < team; id++) {
            const int fd = info_[id].schedstat.load(std::memory_order_acquire);
            char buf[96];
            const ssize_t n = fd < 0 ? -1 : pread(fd, buf, sizeof buf - 1, 0);
            if (n <= 0) return -1;
            buf[n] = 0;
            char* p = buf;
            std::strtoull(p, &p, 10);  // time on the CPU
            sum += (int64_t)std::strtoull(p, nullptr, 10);
        }
        return sum;
    }

    void trace(int64_t now, const char* what, double rate) const {
        if (!TRACE) return;
        std::fprintf(stderr, "d4j-pool %.1f ms: %s%s rate %.4g (parallel %.4g, serial %.4g), back-off %.0f ms, caller cpu %d, worker cpu %d\n",
                     (now - trace_t0_) / 1e6, what, mode_.load(std::memory_order_relaxed) == SERIAL ? " -> serial" : "",
                     rate, rate_par_, rate_ser_, backoff_ns_ / 1e6, sched_getcpu(),
                     team_.load(std::memory_order_relaxed) > 1 ? info_[1].cpu.load(std::memory_order_relaxed) : -1);
    }

    // Each thread's home range of chunks: by cost (a chunk goes to the thread its cost midpoint falls in) or by
    // count. Written with the new generation; published by the store to gen_.
    void assign(const Region& r, int T, uint32_t g) {
        int t = 0, start = 0;
        if (r.split && r.split_threads == T && r.split[0] == 0 && r.split[T] == r.chunks) {
            for (; t < T; t++) slots_[t].word.store(pack(g, r.split[t], r.split[t + 1]), std::memory_order_relaxed);
        } else if (r.cost) {
            double total = 0, before = 0;
            for (int i = 0; i < r.chunks; i++) total += r.cost[i] > 0 ? r.cost[i] : 0;
            for (int i = 0; i < r.chunks; i++) {
                const double c = r.cost[i] > 0 ? r.cost[i] : 0;
                const int owner = total > 0 ? std::min(T - 1, (int)(T * (before + 0.5 * c) / total)) : 0;
                for (; t < owner; t++, start = i) slots_[t].word.store(pack(g, start, i), std::memory_order_relaxed);
                before += c;
            }
            for (; t < T; t++, start = r.chunks) slots_[t].word.store(pack(g, start, r.chunks), std::memory_order_relaxed);
        } else {
            for (; t < T; t++) {
                const ChunkRange h = home_chunks(r.chunks, T, t);
                slots_[t].word.store(pack(g, h.first, h.end), std::memory_order_relaxed);
            }
        }
        for (const int team = team_.load(std::memory_order_relaxed); t < team; t++) slots_[t].word.store(pack(g, 0, 0), std::memory_order_relaxed);
    }

    // Returns how long the caller slept for a worker descheduled in a chunk (0: it did not).
    int64_t run_parallel(const Region& r) {
        const int64_t t0 = now_ns();
        region_ = &r;
        csr_ = _mm_getcsr();
        done_.store(0, std::memory_order_relaxed);
        const uint32_t g = ++gen_counter_;
        assign(r, std::min(team_.load(std::memory_order_relaxed), r.chunks), g);
        gen_.store(g, std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake(&gen_, MAX_THREADS);

        double mine_cost = 0;
        const int mine = participate(0, g, false, &mine_cost);
        const uint32_t target = (uint32_t)(r.chunks - mine);
        const int64_t t1 = now_ns();
        int64_t waited = 0;
        if (done_.load(std::memory_order_acquire) != target) {
            int spins = 0;
            while (done_.load(std::memory_order_acquire) != target) {
                cpu_relax();
                if (++spins % 64 == 0 && now_ns() - t1 > WAIT_SPIN_NS) {
                    caller_waiting_.store(1, std::memory_order_seq_cst);
                    for (uint32_t d; (d = done_.load(std::memory_order_seq_cst)) != target;) futex_wait(&done_, d);
                    caller_waiting_.store(0, std::memory_order_relaxed);
                    break;
                }
            }
            waited = now_ns() - t1;
        }
        // A worker descheduled in the middle of a chunk makes the caller wait far longer than the imbalance of
        // one chunk (a scheduler time slice). The caller can only be left waiting for chunks a worker started
        // before the caller ran out (it takes over every other one), so a running worker keeps it waiting at
        // most about the time of the largest chunk, which the caller's own pace in this region estimates: only
        // a wait well beyond that counts as a descheduled worker (a region of a few coarse chunks, e.g. one per
        // layer, legitimately keeps the caller waiting for a whole chunk), and at least SLEPT_NS: a worker
        // that shares its core with another process loses whole scheduler slices (milliseconds), while a
        // vCPU that the host holds back for a moment (measured on the 2-vCPU VM: several waits of 50-500 us a
        // second on a quiet machine) is noise that the timed windows absorb; taking those for a busy core
        // sent the pool to serial for 20 ms .. 2 s at a time.
        if (mine == r.chunks) stats_[STAT_ALONE].fetch_add(1, std::memory_order_relaxed);
        double max_cost = 0;
        for (int i = 0; i < r.chunks; i++) max_cost = std::max(max_cost, chunk_cost(r, i));
        const double chunk_ns = mine_cost > 0 ? (double)(t1 - t0) * max_cost / mine_cost : 0.0;
        const bool slept = waited > SLEPT_NS && (double)waited > 2.0 * chunk_ns + WAIT_SPIN_NS;
        return slept ? waited : 0;
    }

    // Claims and runs chunks of region g until none is left: its own range from the front, then the others'
    // from the back. Returns how many it ran.
    static double chunk_cost(const Region& r, int i) { return r.cost ? std::max(0.0f, r.cost[i]) : 1.0; }

    int participate(int id, uint32_t g, bool worker, double* cost_ran = nullptr) {
        int ran = 0;
        const Region* r = nullptr;
        const int T = team_.load(std::memory_order_relaxed);
        for (int k = 0; k < T; k++) {
            Slot& s = slots_[(id + k) % T];
            uint64_t w = s.word.load(std::memory_order_relaxed);
            for (;;) {
                if ((uint32_t)(w >> 32) != g) break;
                const int lo = (int)(w >> 16 & 0xFFFF), hi = (int)(w & 0xFFFF);
                if (lo >= hi) break;
                const uint64_t nw = k == 0 ? w + ((uint64_t)1 << 16) : w - 1;
                if (!s.word.compare_exchange_weak(w, nw, std::memory_order_acq_rel, std::memory_order_relaxed)) continue;
                // Holding a chunk of region g: the region, and so its descriptor, cannot end before we report it.
                if (!r) {
                    r = region_;
                    if (worker) _mm_setcsr(csr_);
                }
                const int chunk = k == 0 ? lo : hi - 1;
                r->run(r->ctx, chunk);
                if (cost_ran) *cost_ran += chunk_cost(*r, chunk);
                ran++;
                w = s.word.load(std::memory_order_relaxed);
            }
        }
        return ran;
    }

    // Pins worker `id` (thread `tid`, 0: the calling thread) to a CPU other than `caller_cpu` (the id-th of the
    // others this process may use) for PIN_NS; the worker then gives itself back every allowed CPU (worker_loop),
    // so that afterwards the scheduler can move it away from a core another process holds. Done for every new
    // worker, and again by separate(). Why: a scheduler that packs threads onto few CPUs (as the kernels of small
    // VMs do) keeps a new thread, whose measured load starts at zero, on its creator's CPU for its first ~0.1 s,
    // time-sharing the caller's core: measured on the 2-vCPU VM, the first 110 ms of a new team ran regions at
    // half the serial speed, the pool judged threads a loss, backed off, and the thread never got the busy
    // history that would have earned it its own CPU. Pinned, the first windows already run 1.5x the serial
    // speed; once unpinned the thread keeps its CPU (its load is known by then). Returns whether it pinned.
    bool pin_away(int id, int tid, int caller_cpu) {
        if (!can_pin_ || caller_cpu < 0) return false;
        const int others = CPU_COUNT(&allowed_) - (CPU_ISSET(caller_cpu, &allowed_) ? 1 : 0);
        int seen = 0, target = -1;
        for (int c = 0; c < CPU_SETSIZE && target < 0; c++)
            if (CPU_ISSET(c, &allowed_) && c != caller_cpu && ++seen == 1 + (id - 1) % others) target = c;
        if (target < 0) return false;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(target, &one);
        if (sched_setaffinity(tid, sizeof one, &one) != 0) return false;
        info_[id].unpin_at.store(now_ns() + PIN_NS, std::memory_order_relaxed);
        return true;
    }

    void worker_loop(int id, uint32_t seen) {
        WorkerInfo& me = info_[id];
        for (;;) {
            uint32_t g = gen_.load(std::memory_order_acquire);
            if (g == seen) {
                const int64_t t0 = now_ns();
                int spins = 0;
                while ((g = gen_.load(std::memory_order_acquire)) == seen) {
                    cpu_relax();
                    if (++spins % 64 == 0 && now_ns() - t0 > spin_ns_) break;
                }
                if (g == seen) {
                    sleepers_.fetch_add(1, std::memory_order_seq_cst);
                    while ((g = gen_.load(std::memory_order_seq_cst)) == seen && !stop_.load(std::memory_order_seq_cst))
                        futex_wait(&gen_, seen);
                    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
                }
            }
            if (stop_.load(std::memory_order_acquire)) return;
            seen = g;
            me.cpu.store(sched_getcpu(), std::memory_order_relaxed);  // where it woke: see colocated()
            int64_t unpin_at = me.unpin_at.load(std::memory_order_relaxed);
            if (unpin_at != 0 && now_ns() >= unpin_at && me.unpin_at.compare_exchange_strong(unpin_at, 0))
                sched_setaffinity(0, sizeof allowed_, &allowed_);
            const int ran = participate(id, g, true);
            if (ran > 0) {
                done_.fetch_add((uint32_t)ran, std::memory_order_seq_cst);
                if (caller_waiting_.load(std::memory_order_seq_cst)) futex_wake(&done_, 1);
            }
        }
    }

    // Called holding busy_: no region runs, workers only wait. A new generation (with no chunks) wakes them.
    void stop_workers() {
        stop_.store(true, std::memory_order_seq_cst);
        const uint32_t g = ++gen_counter_;
        for (int t = 0; t < MAX_THREADS; t++) slots_[t].word.store(pack(g, 0, 0), std::memory_order_relaxed);
        gen_.store(g, std::memory_order_seq_cst);
        futex_wake(&gen_, MAX_THREADS);
        for (auto& w : workers_) w.join();
        workers_.clear();
        for (int id = 1; id < MAX_THREADS; id++) {
            const int fd = info_[id].schedstat.exchange(-1, std::memory_order_relaxed);
            if (fd >= 0) close(fd);
            info_[id].tid.store(0, std::memory_order_relaxed);
        }
        stop_.store(false, std::memory_order_seq_cst);
    }

    static constexpr int64_t WAIT_SPIN_NS = 50000, SLEPT_NS = 500000;
    static constexpr int64_t PIN_NS = 300000000;  // a pin lasts 0.3 s (pin_away)
    static constexpr int64_t SEPARATE_GAP_NS = 50000000;
    // Serial back-off after a lost window or horizon (account()). The cap was 2 s: a disturbance that passes (the
    // JVM's compiler threads in its first seconds) then kept a whole training run serial after it had gone. What
    // one more parallel try costs while a core stays taken is about one window: ~1% at 0.5 s, far inside the
    // 1.2x no-collapse bound.
    static constexpr int64_t BACKOFF_MIN_NS = 20000000, HARD_BACKOFF_MAX_NS = 500000000,
                             SOFT_BACKOFF_MAX_NS = 160000000;
    static constexpr int64_t HORIZON_NS = 16000000;
    static const bool TRACE;  // D4J_POOL_TRACE=1: every decision on stderr (for diagnosing a machine)

    const int64_t spin_ns_;
    std::mutex busy_;
    std::atomic<int> requested_{1};
    std::atomic<int> team_{1};  // read without the lock by run(); changed only under it with no region running
    std::vector<std::thread> workers_;
    std::atomic<bool> stop_{false};
    // written by the caller holding busy_
    const Region* region_ = nullptr;
    unsigned csr_ = 0;
    uint32_t gen_counter_ = 0;
    // throughput accounting (account()), by the caller holding busy_
    std::atomic<int> mode_{PARALLEL};
    int64_t win_ns_ = 0;
    double win_work_ = 0;
    int win_regions_ = 0;
    int64_t win_delay0_ = 0;             // workers' run-queue delay when the window started
    int64_t hor_ns_ = 0;                 // parallel windows since the horizon started
    double hor_work_ = 0;
    int64_t separated_ns_ = INT64_MIN / 2;
    const int64_t trace_t0_ = now_ns();
    double rate_par_ = 0, rate_ser_ = 0;  // ns per unit of work, last window of each mode
    int64_t ser_measured_ns_ = 0, serial_until_ns_ = 0, backoff_ns_ = 0;
    bool probing_ = false;
    static constexpr int64_t WINDOW_NS = 2000000, REMEASURE_NS = 200000000;
    static constexpr double SMALL_WORK = 4e5;  // = PAR_MIN_FLOPS
    static constexpr double WIN = 0.85;  // parallel must take at most 85% of the serial time per unit of work
    std::atomic<int64_t> stats_[STAT_COUNT] = {};
    // Per worker (index = id): its thread id, the CPU it last woke on, when its pin ends (0: not pinned), its
    // schedstat file. allowed_ is the caller's CPU mask when the team was made (workers inherit it).
    struct alignas(64) WorkerInfo {
        std::atomic<int> tid{0};
        std::atomic<int> cpu{-1};
        std::atomic<int64_t> unpin_at{0};
        std::atomic<int> schedstat{-1};
    };
    WorkerInfo info_[MAX_THREADS];
    cpu_set_t allowed_;
    bool can_pin_ = false;
    alignas(64) std::atomic<uint32_t> gen_{0};
    alignas(64) std::atomic<int> sleepers_{0};
    alignas(64) std::atomic<uint32_t> done_{0};
    alignas(64) std::atomic<int> caller_waiting_{0};
    Slot slots_[MAX_THREADS];
};

const bool Pool::TRACE = [] {
    const char* v = std::getenv("D4J_POOL_TRACE");
    return v && *v && *v != '0';
}();

Pool& shared_pool() {
    // Never destroyed: workers parked on a futex at process exit are simply ended with it (destroying the pool
    // from a static destructor could join threads while the JVM is tearing down).
    static Pool* p = [] {
        Pool* q = new Pool();
        q->set_threads(1);
        return q;
    }();
    return *p;
}

// A caller's private team (d4j_set_caller_threads): a Pool of its own, so that its regions never go serial
// because another thread's region holds the shared pool, and use exactly the threads it was given. `active` is
// what every region reads (a trivial thread_local: no guard on the hot path); the owner frees the team, and
// with it its workers, when the thread ends.
thread_local Pool* active = nullptr;

struct PrivateTeam {
    Pool* pool = nullptr;
    void release() {
        if (!pool) return;
        active = nullptr;
        pool->set_threads(1);  // joins its workers: none is running a region (only this thread starts them)
        delete pool;
        pool = nullptr;
    }
    ~PrivateTeam() { release(); }
};
thread_local PrivateTeam owned;

Pool& pool() {
    Pool* p = active;
    return p ? *p : shared_pool();
}

}  // namespace

void parallel(const Region& r) { pool().run(r); }
bool running_serially() { return in_serial; }

int team_size() { return pool().team_now(); }
void pool_set_threads(int n) { shared_pool().set_threads(n); }
int pool_requested_threads() { return pool().requested(); }
int pool_max_team() { return std::max(1, std::min(cpus_available(), MAX_THREADS)); }
void pool_stats(int64_t* out) { pool().stats(out); }

void pool_set_caller_threads(int n) {
    if (n <= 0) {
        owned.release();
        return;
    }
    if (!owned.pool) owned.pool = new Pool();
    owned.pool->set_threads(n);
    active = owned.pool;
}

int pool_caller_threads() { return owned.pool ? owned.pool->requested() : 0; }

}  // namespace d4j
