// CPU execution harness of the Dense4J CUDA kernels: the runtime behind cuda_runtime.h (beside it).
//
// How a launch runs. Blocks run one after the other on the calling host thread. The threads of a block are
// user-level threads (each with its own stack, switched by a few instructions) scheduled in sweeps: each ready
// thread runs until it reaches __syncthreads, a warp operation or its end. A warp operation completes when all 32
// lanes of the warp have posted their part (shuffle value, mma fragments); a barrier releases when every thread of
// the block still running has reached it. So a thread never runs past a barrier before the others reach it, and a
// missing barrier shows: between two barriers thread 0 runs to the end of its phase before thread 1 starts, so a
// read of shared memory that another thread writes in the same phase sees stale data. Launches alternate the sweep
// order (forward, reverse) and the block order, so both directions of such a race, and "last block to arrive"
// logic with either block last, are exercised.
//
// What it checks besides the results the tests compare: warp operations reached by only some lanes of a warp,
// or by lanes waiting at different operations, and barriers that not every thread reaches (both would hang or be
// undefined on a GPU); launch configurations over the CUDA limits (block > 1024 threads, gridDim.y or z > 65535);
// writes just past the end or before the start of a device allocation (guard bytes, checked after every launch
// and copy); copies out of an allocation's bounds; device memory that is read before it is written (allocations
// start as 0xFF bytes, NaN as floats); calls that a CUDA graph capture forbids (synchronous copies, work on the
// legacy stream); and host writes to pinned memory while an asynchronous copy from or into it may be in flight
// (the copy's host bytes must be unchanged when the stream is next synchronized).
//
// What it cannot catch: memory ordering and data races between blocks (blocks never overlap here) or between
// threads at one instant (each runs alone); stream concurrency and the asynchrony of kernels (everything runs at
// once, in order); speed, occupancy, register spills and bank conflicts; the hardware's rounding (host libm for
// expf/erff/..., mma accumulated in FP32 in k order, where the tensor cores' internal order and rounding are not
// documented; TF32 operands use only their top 19 bits, as the hardware does); reads out of bounds (only writes
// are guarded) and misaligned vector accesses (x86 allows them); the real driver's errors.
#include "cuda_runtime.h"
#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <vector>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace {

// ---- problems and errors --------------------------------------------------------------------------------------
std::atomic<int> g_problems{0};
void problem(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ++g_problems;
    fprintf(stdout, "EMULATOR PROBLEM: %s\n", buf);
    fflush(stdout);
}

thread_local cudaError_t t_last = cudaSuccess;
cudaError_t record(cudaError_t e) {
    if (e != cudaSuccess) t_last = e;
    return e;
}

std::mutex g_mu;  // memory registry, injected failures, graphs
std::map<std::string, int> g_inject;
// A failure injected for `api` by d4j_emu_fail_next, consumed once.
bool injected(const char* api, cudaError_t* e) {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_inject.find(api);
    if (it == g_inject.end()) return false;
    *e = (cudaError_t)it->second;
    g_inject.erase(it);
    return true;
}
#define D4J_EMU_INJECT(name)                  \
    do {                                      \
        cudaError_t inj_;                     \
        if (injected(name, &inj_)) return record(inj_); \
    } while (0)

// ---- memory -----------------------------------------------------------------------------------------------------
constexpr size_t kGuard = 256;          // guard bytes on each side of an allocation (keeps 256-byte alignment)
constexpr unsigned char kGuardByte = 0xA5;
struct Alloc { size_t bytes; bool pinned; };
std::map<uintptr_t, Alloc> g_allocs;    // user address -> allocation

void check_guards_locked(const char* when) {
    for (auto& kv : g_allocs) {
        const unsigned char* p = (const unsigned char*)kv.first;
        for (size_t i = 0; i < kGuard; ++i) {
            if (p[-(ptrdiff_t)kGuard + (ptrdiff_t)i] != kGuardByte) {
                problem("write before the start of a %zu-byte allocation at %p (found %s)", kv.second.bytes, (void*)p, when);
                std::memset((void*)(p - kGuard), kGuardByte, kGuard);
                break;
            }
            if (p[kv.second.bytes + i] != kGuardByte) {
                problem("write past the end of a %zu-byte allocation at %p (byte %zu after it, found %s)",
                        kv.second.bytes, (void*)p, i, when);
                std::memset((void*)(p + kv.second.bytes), kGuardByte, kGuard);
                break;
            }
        }
    }
}
void check_guards(const char* when) {
    std::lock_guard<std::mutex> lock(g_mu);
    check_guards_locked(when);
}

// The allocation holding [p, p + bytes), or null.
const Alloc* find_alloc_locked(const void* p, size_t bytes, uintptr_t* base) {
    auto it = g_allocs.upper_bound((uintptr_t)p);
    if (it == g_allocs.begin()) return nullptr;
    --it;
    if ((uintptr_t)p + bytes > it->first + it->second.bytes) return nullptr;
    *base = it->first;
    return &it->second;
}
enum Side { DEVICE, PINNED_HOST, ANY_HOST };
// Checks that [p, p + bytes) is device memory (DEVICE) or says whether it is pinned host memory.
bool in_device(const void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(g_mu);
    uintptr_t b;
    const Alloc* a = find_alloc_locked(p, bytes, &b);
    return a && !a->pinned;
}
bool in_pinned(const void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(g_mu);
    uintptr_t b;
    const Alloc* a = find_alloc_locked(p, bytes, &b);
    return a && a->pinned;
}

cudaError_t allocate(void** out, size_t bytes, bool pinned) {
    size_t n = bytes ? bytes : 1;
    size_t total = (kGuard + n + kGuard + 255) / 256 * 256;
    unsigned char* base = (unsigned char*)aligned_alloc(256, total);
    if (!base) return record(cudaErrorMemoryAllocation);
    std::memset(base, kGuardByte, kGuard);
    std::memset(base + kGuard, 0xFF, n);  // never-written device memory reads as NaN / -1, not as zeros
    std::memset(base + kGuard + n, kGuardByte, total - kGuard - n);
    std::lock_guard<std::mutex> lock(g_mu);
    g_allocs[(uintptr_t)(base + kGuard)] = Alloc{n, pinned};
    *out = base + kGuard;
    return cudaSuccess;
}

// ---- streams, events, graphs -------------------------------------------------------------------------------------
}  // namespace
struct CUstream_st { unsigned flags; };
struct CUevent_st { unsigned flags; };
struct CUgraph_st { std::vector<std::function<void()>> ops; };
struct CUgraphExec_st { std::vector<std::function<void()>> ops; };
namespace {

bool is_legacy(cudaStream_t s) { return s == nullptr || s == cudaStreamLegacy; }

// Capture state of this host thread (cudaStreamCaptureModeThreadLocal semantics).
thread_local cudaStream_t t_capture = nullptr;
thread_local bool t_capture_invalid = false;
thread_local std::vector<std::function<void()>> t_capture_ops;

// A call that a capture on this thread forbids: invalidates the capture and fails, as CUDA does.
bool capture_forbids(const char* api) {
    if (!t_capture) return false;
    t_capture_invalid = true;
    problem("%s while a CUDA graph is being captured on this thread (CUDA fails it and invalidates the capture)", api);
    return true;
}

// Host bytes of an asynchronous copy involving pinned memory: must be unchanged until the stream is synchronized.
struct Watch { cudaStream_t stream; const unsigned char* host; std::vector<unsigned char> bytes; const char* what; };
std::vector<Watch> g_watches;

void watch(cudaStream_t s, const void* host, size_t bytes, const char* what) {
    Watch w{s, (const unsigned char*)host, std::vector<unsigned char>((const unsigned char*)host,
                                                                       (const unsigned char*)host + bytes), what};
    std::lock_guard<std::mutex> lock(g_mu);
    g_watches.push_back(std::move(w));
}
// The program now knows the copies on s (all streams when `all`) are complete; with `overlap`, only those whose
// host bytes overlap [lo, hi): a later copy on the same stream touching them runs after them in stream order.
void complete_watches(cudaStream_t s, bool all, const void* lo = nullptr, const void* hi = nullptr) {
    std::lock_guard<std::mutex> lock(g_mu);
    for (auto it = g_watches.begin(); it != g_watches.end();) {
        const bool overlaps = !lo || (it->host < (const unsigned char*)hi && it->host + it->bytes.size() > (const unsigned char*)lo);
        if ((all || it->stream == s || (is_legacy(s) && is_legacy(it->stream))) && overlaps) {
            if (std::memcmp(it->host, it->bytes.data(), it->bytes.size()) != 0)
                problem("the host changed %zu bytes of pinned memory at %p while an asynchronous copy %s them could "
                        "still be in flight (no stream synchronization between the copy and the host write)",
                        it->bytes.size(), (const void*)it->host, it->what);
            it = g_watches.erase(it);
        } else {
            ++it;
        }
    }
}

// ---- user-level threads ---------------------------------------------------------------------------------------------
#if defined(__x86_64__)
extern "C" void d4j_emu_switch(void** save_sp, void* to_sp);
asm(".text\n"
    ".globl d4j_emu_switch\n"
    ".type d4j_emu_switch,@function\n"
    "d4j_emu_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size d4j_emu_switch,.-d4j_emu_switch\n");
#endif

constexpr size_t kStack = 256 * 1024;
constexpr int kMaxThreads = 1024;

enum State { READY, AT_BARRIER, AT_WARP_OP, FINISHED };
enum WarpOp { SHFL_XOR = 1, MMA_TF32 = 2 };
struct Fiber {
    State state = FINISHED;
    char* stack = nullptr;
#if defined(__x86_64__)
    void* sp = nullptr;
#else
    ucontext_t ctx;
#endif
    uint3 tid{0, 0, 0};
    // posted warp operation
    int op = 0, arg = 0;
    unsigned mask = 0;
    uint64_t in = 0, out = 0;
    const uint32_t* a = nullptr;
    const uint32_t* b = nullptr;
    float* d = nullptr;
};

struct Worker {
    Fiber fibers[kMaxThreads];
    int cur = -1;
#if defined(__x86_64__)
    void* sched_sp = nullptr;
#else
    ucontext_t sched;
#endif
    const std::function<void()>* body = nullptr;
};
thread_local Worker* t_worker = nullptr;

Worker& worker() {
    if (!t_worker) t_worker = new Worker();  // lives as long as the host thread; stacks are reused
    return *t_worker;
}

void to_scheduler(Fiber& f) {
    Worker& w = *t_worker;
#if defined(__x86_64__)
    d4j_emu_switch(&f.sp, w.sched_sp);
#else
    swapcontext(&f.ctx, &w.sched);
#endif
}

void fiber_main() {
    Worker& w = *t_worker;
    (*w.body)();
    Fiber& f = w.fibers[w.cur];
    f.state = FINISHED;
    to_scheduler(f);
    abort();  // a finished thread is never resumed
}

void start_fiber(Fiber& f) {
    if (!f.stack) {
        void* m = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) { perror("mmap"); abort(); }
        mprotect(m, 4096, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting memory
        f.stack = (char*)m;
    }
#if defined(__x86_64__)
    uintptr_t top = ((uintptr_t)f.stack + kStack) & ~(uintptr_t)15;
    void** sp = (void**)(top - 64);  // 6 callee-saved registers, the "return address" fiber_main, padding
    for (int i = 0; i < 6; ++i) sp[i] = nullptr;
    sp[6] = (void*)&fiber_main;
    sp[7] = nullptr;
    f.sp = sp;
#else
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack + 4096;
    f.ctx.uc_stack.ss_size = kStack - 4096;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, (void (*)())fiber_main, 0);
#endif
    f.state = READY;
}

void resume(Worker& w, int t) {
    w.cur = t;
    threadIdx = w.fibers[t].tid;
#if defined(__x86_64__)
    d4j_emu_switch(&w.sched_sp, w.fibers[t].sp);
#else
    swapcontext(&w.sched, &w.fibers[t].ctx);
#endif
}

uint32_t tf32_bits(uint32_t x) { return x & 0xFFFFE000u; }  // the tensor cores read the top 19 bits only

// Completes the warp operation all 32 lanes of `lanes` posted.
void complete_warp_op(Fiber* lanes) {
    if (lanes[0].op == SHFL_XOR) {
        for (int l = 0; l < 32; ++l) lanes[l].out = lanes[l ^ lanes[0].arg].in;
    } else {
        // mma.m16n8k8 .row.col .tf32: fragments as the PTX ISA documents them (g = lane / 4, t = lane % 4):
        //   A 16x8: a0 (g, t), a1 (g + 8, t), a2 (g, t + 4), a3 (g + 8, t + 4)
        //   B 8x8:  b0 (k = t, n = g), b1 (k = t + 4, n = g)
        //   C/D 16x8: d0 (g, 2t), d1 (g, 2t + 1), d2 (g + 8, 2t), d3 (g + 8, 2t + 1)
        float A[16][8], B[8][8], C[16][8];
        for (int l = 0; l < 32; ++l) {
            const int g = l >> 2, t = l & 3;
            const Fiber& f = lanes[l];
            A[g][t] = __uint_as_float(tf32_bits(f.a[0]));
            A[g + 8][t] = __uint_as_float(tf32_bits(f.a[1]));
            A[g][t + 4] = __uint_as_float(tf32_bits(f.a[2]));
            A[g + 8][t + 4] = __uint_as_float(tf32_bits(f.a[3]));
            B[t][g] = __uint_as_float(tf32_bits(f.b[0]));
            B[t + 4][g] = __uint_as_float(tf32_bits(f.b[1]));
            C[g][2 * t] = f.d[0];
            C[g][2 * t + 1] = f.d[1];
            C[g + 8][2 * t] = f.d[2];
            C[g + 8][2 * t + 1] = f.d[3];
        }
        for (int r = 0; r < 16; ++r)
            for (int c = 0; c < 8; ++c) {
                float acc = C[r][c];
                for (int k = 0; k < 8; ++k) acc = fmaf(A[r][k], B[k][c], acc);  // TF32 x TF32 is exact in FP32
                C[r][c] = acc;
            }
        for (int l = 0; l < 32; ++l) {
            const int g = l >> 2, t = l & 3;
            float* d = lanes[l].d;
            d[0] = C[g][2 * t];
            d[1] = C[g][2 * t + 1];
            d[2] = C[g + 8][2 * t];
            d[3] = C[g + 8][2 * t + 1];
        }
    }
    for (int l = 0; l < 32; ++l) lanes[l].state = READY;
}

// Posts this lane's part of a warp operation and waits until the whole warp has posted and it is done.
void warp_op(int op, int arg, unsigned mask) {
    Worker& w = *t_worker;
    Fiber& f = w.fibers[w.cur];
    f.op = op;
    f.arg = arg;
    f.mask = mask;
    f.state = AT_WARP_OP;
    to_scheduler(f);
}

thread_local unsigned long long t_launches = 0;

// Runs one block to completion; returns false (after reporting a problem) if its threads deadlock.
bool run_block(Worker& w, int nthreads, dim3 block, bool reverse) {
    for (int t = 0; t < nthreads; ++t) {
        Fiber& f = w.fibers[t];
        f.tid = uint3{(unsigned)(t % block.x), (unsigned)((t / block.x) % block.y), (unsigned)(t / (block.x * block.y))};
        start_fiber(f);
    }
    const int nwarps = (nthreads + 31) / 32;
    for (;;) {
        for (int i = 0; i < nthreads; ++i) {
            const int t = reverse ? nthreads - 1 - i : i;
            if (w.fibers[t].state == READY) resume(w, t);
        }
        int at_barrier = 0, finished = 0, released = 0;
        for (int wi = 0; wi < nwarps; ++wi) {
            Fiber* lanes = &w.fibers[wi * 32];
            const int n = std::min(32, nthreads - wi * 32);
            int posted = 0, live = 0;
            for (int l = 0; l < n; ++l) {
                if (lanes[l].state != FINISHED) ++live;
                if (lanes[l].state == AT_WARP_OP) ++posted;
            }
            if (posted == 0) continue;
            bool same = posted == 32 && live == 32;
            for (int l = 1; same && l < 32; ++l)
                same = lanes[l].op == lanes[0].op && lanes[l].arg == lanes[0].arg && lanes[l].mask == lanes[0].mask;
            if (!same || lanes[0].mask != 0xffffffffu) {
                problem("warp %d of block (%u,%u,%u): a full-warp operation reached by %d of %d lanes (%d running), "
                        "or by lanes at different operations: undefined on a GPU", wi, blockIdx.x, blockIdx.y,
                        blockIdx.z, posted, n, live);
                return false;
            }
            complete_warp_op(lanes);
            released += 32;
        }
        if (released) continue;
        for (int t = 0; t < nthreads; ++t) {
            at_barrier += w.fibers[t].state == AT_BARRIER;
            finished += w.fibers[t].state == FINISHED;
        }
        if (finished == nthreads) return true;
        if (at_barrier + finished != nthreads) {
            problem("block (%u,%u,%u): threads blocked at neither a barrier nor a warp operation", blockIdx.x,
                    blockIdx.y, blockIdx.z);
            return false;
        }
        // every running thread is at the barrier (threads that exited do not take part, as on the GPU)
        for (int t = 0; t < nthreads; ++t)
            if (w.fibers[t].state == AT_BARRIER) w.fibers[t].state = READY;
    }
}

void run_grid(dim3 grid, dim3 block, const std::function<void()>& body) {
    Worker& w = worker();
    const int nthreads = (int)(block.x * block.y * block.z);
    const unsigned long long launch = t_launches++;
    const bool reverse_threads = launch & 1, reverse_blocks = launch & 2;
    const std::function<void()>* saved = w.body;
    w.body = &body;
    gridDim = grid;
    blockDim = block;
    const unsigned long long nblocks = (unsigned long long)grid.x * grid.y * grid.z;
    for (unsigned long long i = 0; i < nblocks; ++i) {
        const unsigned long long b = reverse_blocks ? nblocks - 1 - i : i;
        blockIdx = uint3{(unsigned)(b % grid.x), (unsigned)((b / grid.x) % grid.y), (unsigned)(b / ((unsigned long long)grid.x * grid.y))};
        if (!run_block(w, nthreads, block, reverse_threads)) { record(cudaErrorLaunchFailure); break; }
    }
    w.body = saved;
    check_guards("after a kernel");
}

const char* error_name(cudaError_t e) {
    switch (e) {
#define N(x) case x: return #x;
        N(cudaSuccess) N(cudaErrorInvalidValue) N(cudaErrorMemoryAllocation) N(cudaErrorInitializationError)
        N(cudaErrorInvalidConfiguration) N(cudaErrorStubLibrary) N(cudaErrorInsufficientDriver)
        N(cudaErrorCallRequiresNewerDriver) N(cudaErrorDevicesUnavailable) N(cudaErrorNoDevice)
        N(cudaErrorInvalidDevice) N(cudaErrorInvalidResourceHandle) N(cudaErrorIllegalAddress)
        N(cudaErrorLaunchFailure) N(cudaErrorNotSupported) N(cudaErrorSystemDriverMismatch)
        N(cudaErrorCompatNotSupportedOnDevice) N(cudaErrorStreamCaptureUnsupported)
        N(cudaErrorStreamCaptureInvalidated) N(cudaErrorStreamCaptureImplicit) N(cudaErrorUnknown)
#undef N
    }
    return "cudaErrorUnknown";
}

}  // namespace

// ---- device functions -------------------------------------------------------------------------------------------------
void __syncthreads() {
    Worker& w = *t_worker;
    Fiber& f = w.fibers[w.cur];
    f.state = AT_BARRIER;
    to_scheduler(f);
}

namespace d4j_emu {
uint64_t shfl_xor(unsigned mask, uint64_t bits, int lane_mask) {
    Fiber& f = t_worker->fibers[t_worker->cur];
    f.in = bits;
    warp_op(SHFL_XOR, lane_mask & 31, mask);
    return t_worker->fibers[t_worker->cur].out;
}
void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    Fiber& f = t_worker->fibers[t_worker->cur];
    f.a = a;
    f.b = b;
    f.d = d;
    warp_op(MMA_TF32, 0, 0xffffffffu);
}
float cvt_rna_tf32(float x) {
    uint32_t u = __float_as_uint(x);
    if ((u & 0x7F800000u) == 0x7F800000u) return x;  // inf and NaN unchanged
    u = (u + 0x1000u) & 0xFFFFE000u;                   // add half an ulp of TF32 to the magnitude, truncate
    return __uint_as_float(u);
}

void submit(dim3 grid, dim3 block, size_t smem, cudaStream_t s, std::function<void()> body) {
    const unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535 || smem > 48 * 1024) {
        record(cudaErrorInvalidConfiguration);
        return;
    }
    if (t_capture) {
        if (s == t_capture) {
            t_capture_ops.push_back([grid, block, body]() { run_grid(grid, block, body); });
            return;
        }
        if (is_legacy(s)) {
            t_capture_invalid = true;
            problem("a kernel launched on the legacy default stream while a graph is captured on another stream");
            record(cudaErrorStreamCaptureImplicit);
            return;
        }
    }
    run_grid(grid, block, body);
}
}  // namespace d4j_emu

// ---- runtime API ----------------------------------------------------------------------------------------------------
cudaError_t cudaGetLastError() {
    cudaError_t e = t_last;
    t_last = cudaSuccess;
    return e;
}
const char* cudaGetErrorName(cudaError_t e) { return error_name(e); }
const char* cudaGetErrorString(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "no error";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        default: return error_name(e);
    }
}

cudaError_t cudaGetDeviceCount(int* n) {
    D4J_EMU_INJECT("cudaGetDeviceCount");
    *n = 1;
    return cudaSuccess;
}
thread_local int t_device = 0;
cudaError_t cudaGetDevice(int* d) {
    D4J_EMU_INJECT("cudaGetDevice");
    *d = t_device;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) {
    D4J_EMU_INJECT("cudaSetDevice");
    if (d != 0) return record(cudaErrorInvalidDevice);
    t_device = d;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
    D4J_EMU_INJECT("cudaGetDeviceProperties");
    if (d != 0) return record(cudaErrorInvalidDevice);
    std::memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "Dense4J CPU emulation of an sm_90 GPU (132 SMs)");
    p->totalGlobalMem = (size_t)80 << 30;
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 132;  // as the H200, so that tile and split-K plans are the GPU's
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d) {
    D4J_EMU_INJECT("cudaDeviceGetAttribute");
    if (d != 0 || a != cudaDevAttrMultiProcessorCount) return record(cudaErrorInvalidValue);
    *v = 132;
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
    D4J_EMU_INJECT("cudaMemGetInfo");
    *free_bytes = *total_bytes = (size_t)80 << 30;
    return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
    *v = 13000;
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
    D4J_EMU_INJECT("cudaDeviceSynchronize");
    if (capture_forbids("cudaDeviceSynchronize")) return record(cudaErrorStreamCaptureUnsupported);
    complete_watches(nullptr, true);
    check_guards("at cudaDeviceSynchronize");
    return cudaSuccess;
}
cudaError_t cudaMalloc(void** p, size_t bytes) {
    D4J_EMU_INJECT("cudaMalloc");
    if (capture_forbids("cudaMalloc")) return record(cudaErrorStreamCaptureUnsupported);
    return allocate(p, bytes, false);
}
cudaError_t cudaMallocHost(void** p, size_t bytes) {
    D4J_EMU_INJECT("cudaMallocHost");
    if (capture_forbids("cudaMallocHost")) return record(cudaErrorStreamCaptureUnsupported);
    return allocate(p, bytes, true);
}
static cudaError_t release(void* p, bool pinned, const char* api) {
    if (!p) return cudaSuccess;
    if (capture_forbids(api)) return record(cudaErrorStreamCaptureUnsupported);
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end() || it->second.pinned != pinned) {
        problem("%s(%p): not the start of a live %s allocation", api, p, pinned ? "pinned host" : "device");
        return record(cudaErrorInvalidValue);
    }
    for (const Watch& w : g_watches)
        if (w.host >= (const unsigned char*)p && w.host < (const unsigned char*)p + it->second.bytes)
            problem("%s of pinned memory while an asynchronous copy %s it is not synchronized", api, w.what);
    check_guards_locked(api);
    free((unsigned char*)p - kGuard);
    g_allocs.erase(it);
    return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
    D4J_EMU_INJECT("cudaFree");
    return release(p, false, "cudaFree");
}
cudaError_t cudaFreeHost(void* p) { return release(p, true, "cudaFreeHost"); }

static cudaError_t copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* api) {
    if (bytes == 0) return cudaSuccess;
    const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if ((dst_dev && !in_device(dst, bytes)) || (src_dev && !in_device(src, bytes))) {
        problem("%s of %zu bytes (%p <- %p): the device side is not inside one device allocation", api, bytes, dst,
                src);
        return record(cudaErrorInvalidValue);
    }
    std::memmove(dst, src, bytes);
    check_guards(api);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
    D4J_EMU_INJECT("cudaMemcpy");
    if (capture_forbids("cudaMemcpy")) return record(cudaErrorStreamCaptureUnsupported);
    complete_watches(cudaStreamLegacy, false);  // synchronous on the legacy stream
    return copy(dst, src, bytes, kind, "cudaMemcpy");
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
    D4J_EMU_INJECT("cudaMemcpyAsync");
    if (t_capture && s == t_capture) {
        t_capture_ops.push_back([=]() { copy(dst, src, bytes, kind, "cudaMemcpyAsync (graph)"); });
        return cudaSuccess;
    }
    if (t_capture && is_legacy(s) && capture_forbids("cudaMemcpyAsync on the legacy stream"))
        return record(cudaErrorStreamCaptureImplicit);
    const void* host = kind == cudaMemcpyHostToDevice ? src : kind == cudaMemcpyDeviceToHost ? dst : nullptr;
    if (host) complete_watches(s, false, host, (const char*)host + bytes);
    if (kind == cudaMemcpyHostToDevice && in_pinned(src, bytes)) watch(s, src, bytes, "from");
    cudaError_t e = copy(dst, src, bytes, kind, "cudaMemcpyAsync");
    if (e == cudaSuccess && kind == cudaMemcpyDeviceToHost && in_pinned(dst, bytes)) watch(s, dst, bytes, "into");
    return e;
}
static cudaError_t fill(void* p, int value, size_t bytes, const char* api) {
    if (bytes == 0) return cudaSuccess;
    if (!in_device(p, bytes)) {
        problem("%s of %zu bytes at %p: not inside one device allocation", api, bytes, p);
        return record(cudaErrorInvalidValue);
    }
    std::memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
    D4J_EMU_INJECT("cudaMemset");
    if (capture_forbids("cudaMemset")) return record(cudaErrorStreamCaptureUnsupported);
    return fill(p, value, bytes, "cudaMemset");
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s) {
    D4J_EMU_INJECT("cudaMemsetAsync");
    if (t_capture && s == t_capture) {
        t_capture_ops.push_back([=]() { fill(p, value, bytes, "cudaMemsetAsync (graph)"); });
        return cudaSuccess;
    }
    if (t_capture && is_legacy(s) && capture_forbids("cudaMemsetAsync on the legacy stream"))
        return record(cudaErrorStreamCaptureImplicit);
    return fill(p, value, bytes, "cudaMemsetAsync");
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
    D4J_EMU_INJECT("cudaStreamCreateWithFlags");
    *s = new CUstream_st{flags};
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    if (is_legacy(s)) return record(cudaErrorInvalidResourceHandle);
    complete_watches(s, false);
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    D4J_EMU_INJECT("cudaStreamSynchronize");
    if (capture_forbids("cudaStreamSynchronize")) return record(cudaErrorStreamCaptureUnsupported);
    complete_watches(s, false);
    check_guards("at cudaStreamSynchronize");
    return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
    D4J_EMU_INJECT("cudaEventCreateWithFlags");
    *e = new CUevent_st{flags};
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t s) {
    D4J_EMU_INJECT("cudaEventRecord");
    if (t_capture && is_legacy(s) && capture_forbids("cudaEventRecord on the legacy stream"))
        return record(cudaErrorStreamCaptureImplicit);
    return cudaSuccess;  // work runs at once: recorded events are always complete
}
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) {
    D4J_EMU_INJECT("cudaStreamWaitEvent");
    return cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
    D4J_EMU_INJECT("cudaStreamBeginCapture");
    if (is_legacy(s) || t_capture) return record(cudaErrorStreamCaptureUnsupported);
    t_capture = s;
    t_capture_invalid = false;
    t_capture_ops.clear();
    return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g) {
    if (s != t_capture) return record(cudaErrorInvalidValue);
    t_capture = nullptr;
    *g = nullptr;
    std::vector<std::function<void()>> ops;
    ops.swap(t_capture_ops);
    if (t_capture_invalid) return record(cudaErrorStreamCaptureInvalidated);
    cudaError_t inj;
    if (injected("cudaStreamEndCapture", &inj)) return record(inj);
    *g = new CUgraph_st{std::move(ops)};
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t g, unsigned long long) {
    D4J_EMU_INJECT("cudaGraphInstantiate");
    if (!g) return record(cudaErrorInvalidValue);
    *exec = new CUgraphExec_st{g->ops};
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
    D4J_EMU_INJECT("cudaGraphLaunch");
    if (!exec) return record(cudaErrorInvalidValue);
    if (t_capture) return record(cudaErrorStreamCaptureUnsupported);
    for (auto& op : exec->ops) op();
    return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g) {
    delete g;
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    delete exec;
    return cudaSuccess;
}

extern "C" {
void d4j_emu_fail_next(const char* api, int error) {
    std::lock_guard<std::mutex> lock(g_mu);
    g_inject[api] = error;
}
int d4j_emu_problems(void) { return g_problems.load(); }
}
