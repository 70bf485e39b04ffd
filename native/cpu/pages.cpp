// Large buffers in 2 MB pages (d4j_alloc_pages / d4j_free_pages, see dense4j.h).
// Why: the training step gathers 32 random rows of a 188 MB training set each step; with the set in 4 KB pages
// nearly every row costs a TLB miss and a page walk from DRAM, in 2 MB pages the walks mostly hit the caches
// (benchmarks/RESULTS.md, sessions 6 and 7). Linux grants 2 MB pages to anonymous memory that is 2 MB aligned and,
// in the usual "madvise" mode of transparent huge pages, advised with MADV_HUGEPAGE before its first touch.
#include <cstdlib>
#include <cstring>
#include "dense4j.h"
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace {
constexpr size_t kHugePage = size_t(2) << 20;

#if defined(__linux__)
// The mapping's length: the bytes asked for, whole 4 KB pages (at least one)
size_t mapped_length(size_t bytes) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (bytes == 0) bytes = 1;
    return (bytes + page - 1) / page * page;
}
#endif
}  // namespace

extern "C" void* d4j_alloc_pages(size_t bytes) {
#if defined(__linux__)
    const size_t len = mapped_length(bytes);
    if (len < bytes || len > SIZE_MAX - kHugePage) return nullptr;  // overflow: refuse, never wrap
    // Map 2 MB more than needed, keep the 2 MB aligned part and give the rest back: the mapping then holds
    // whole 2 MB pages from its start (a tail under 2 MB stays in 4 KB pages, nothing is wasted beyond 4 KB).
    void* raw = mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    char* base = static_cast<char*>(raw);
    char* start = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) & ~(uintptr_t)(kHugePage - 1));
    if (start > base) munmap(base, (size_t)(start - base));
    char* end = base + len + kHugePage;
    if (end > start + len) munmap(start + len, (size_t)(end - (start + len)));
#if defined(MADV_HUGEPAGE)
    madvise(start, len, MADV_HUGEPAGE);  // a hint: where refused (THP "never", old kernels) 4 KB pages remain
#endif
    return start;  // anonymous memory: zero-filled by the kernel, touched lazily
#else
    // elsewhere: 2 MB aligned and zero-filled, in whatever pages the system gives
    void* p = nullptr;
    if (bytes == 0) bytes = 1;
    if (bytes > SIZE_MAX - kHugePage) return nullptr;
    const size_t len = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    if (posix_memalign(&p, kHugePage, len) != 0) return nullptr;
    std::memset(p, 0, len);
    return p;
#endif
}

extern "C" void d4j_free_pages(void* p, size_t bytes) {
    if (!p) return;
#if defined(__linux__)
    munmap(p, mapped_length(bytes));
#else
    (void)bytes;
    std::free(p);
#endif
}
