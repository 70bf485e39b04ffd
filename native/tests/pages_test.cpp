// d4j_alloc_pages / d4j_free_pages (cpu/pages.cpp): every size, from 0 bytes to hundreds of MB, comes back 2 MB
// aligned, zero-filled and writable over every byte asked for; many allocations and frees in a row leave the
// process's mappings as they were (nothing leaked, nothing unmapped twice); an impossible size answers NULL.
// Where transparent huge pages are enabled (always / madvise) the test also reports how many kB of a fully
// touched 64 MB buffer the kernel put in 2 MB pages (/proc/self/smaps, AnonHugePages): a report, not a check,
// because a fragmented or busy machine may refuse them, which is allowed.
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include "test_util.h"

namespace {
// count of the process's mappings (/proc/self/maps lines); 0 where there is no /proc
long mapping_count() {
    std::ifstream in("/proc/self/maps");
    long n = 0;
    std::string line;
    while (std::getline(in, line)) n++;
    return n;
}

// AnonHugePages (kB) of the mapping that starts at p (0 if not found)
long huge_kb_at(const void* p) {
    std::ifstream in("/proc/self/smaps");
    std::string line;
    bool inside = false;
    char start[32];
    std::snprintf(start, sizeof start, "%lx-", (unsigned long)reinterpret_cast<uintptr_t>(p));
    while (std::getline(in, line)) {
        if (line.find('-') != std::string::npos && line.find(':') > line.find(' '))
            inside = line.rfind(start, 0) == 0;  // a mapping's header line
        else if (inside && line.rfind("AnonHugePages:", 0) == 0)
            return std::stol(line.substr(14));
    }
    return 0;
}

void check_size(size_t bytes, t::Rng& rng) {
    unsigned char* p = static_cast<unsigned char*>(d4j_alloc_pages(bytes));
    t::expect(p != nullptr, "allocation of " + std::to_string(bytes) + " bytes");
    if (!p) return;
    t::expect(reinterpret_cast<uintptr_t>(p) % (2u << 20) == 0, "2 MB alignment at " + std::to_string(bytes));
    const size_t n = bytes == 0 ? 1 : bytes;
    bool zero = true;
    for (size_t i = 0; i < n; i += 4093) zero &= p[i] == 0;
    zero &= p[n - 1] == 0;
    t::expect(zero, "zero-filled at " + std::to_string(bytes));
    const unsigned char v = (unsigned char)rng.integer(1, 255);
    std::memset(p, v, n);  // every byte asked for is writable (a short mapping would fault here)
    t::expect(p[0] == v && p[n - 1] == v && p[n / 2] == v, "written back at " + std::to_string(bytes));
    d4j_free_pages(p, bytes);
}
}  // namespace

int main() {
    t::Rng rng(11);
    const size_t sizes[] = {0, 1, 31, 33, 4095, 4096, 4097, 784 * 4, (2u << 20) - 1, 2u << 20, (2u << 20) + 1,
                            (size_t)32 * 784 * 4, (size_t)60000 * 784 * 4};
    for (size_t s : sizes) check_size(s, rng);

    // many allocations and frees of awkward sizes: the mappings come back to what they were
    const long before = mapping_count();
    for (int i = 0; i < 300; i++) {
        const size_t bytes = (size_t)rng.integer(1, 9 << 20);
        void* a = d4j_alloc_pages(bytes);
        void* b = d4j_alloc_pages(bytes / 3 + 1);
        t::expect(a && b && a != b, "two live allocations at round " + std::to_string(i));
        static_cast<char*>(a)[bytes - 1] = 1;
        d4j_free_pages(b, bytes / 3 + 1);
        d4j_free_pages(a, bytes);
    }
    const long after = mapping_count();
    t::expect(after <= before, "mappings after 600 allocations and frees: " + std::to_string(after) + " vs " +
                                   std::to_string(before) + " before (a leak adds mappings)");

    d4j_free_pages(nullptr, 123);  // no-op
    t::expect(d4j_alloc_pages(SIZE_MAX) == nullptr, "SIZE_MAX bytes answer NULL");
    t::expect(d4j_alloc_pages(SIZE_MAX - 4096) == nullptr, "SIZE_MAX - 4096 bytes answer NULL");

    std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string mode;
    std::getline(thp, mode);
    const size_t big = (size_t)64 << 20;
    char* p = static_cast<char*>(d4j_alloc_pages(big));
    t::expect(p != nullptr, "64 MB");
    if (p) {
        std::memset(p, 1, big);
        std::printf("transparent huge pages: '%s'; a touched 64 MB buffer: %ld kB in 2 MB pages\n",
                    mode.empty() ? "(not available)" : mode.c_str(), huge_kb_at(p));
        d4j_free_pages(p, big);
    }
    std::printf("pages_test: %d checks, %d failures\n", t::checks(), t::failures());
    return t::failures() != 0;
}
