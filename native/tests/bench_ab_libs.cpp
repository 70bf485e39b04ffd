// A/B of whole training steps between builds of the CPU library, in ONE process (not a ctest): each library is
// loaded with dlopen (two paths: two independent copies, each with its own thread pool) and trains its own copy of
// the reference network (784-128 relu-10 softmax, Adam 1e-3, sparse CE, batch 32) on the same byte rows, exactly as
// the Java API runs it: the training set as bytes in 2 MB pages (d4j_alloc_pages), converted while gathered
// (d4j_net_train_data, D4J_DATA_U8 / 255), the order reshuffled every epoch, calls of 64 steps, parameters,
// gradients and optimizer state on 64-byte lines. The libraries' calls alternate (A B, then B A, ...), so all see
// the same machine; each call's time is kept: the calling thread's CPU time at one thread, wall time at more. Printed: per library the median of the epochs' step time,
// the 10th percentile and median of the calls, the phase shares (d4j_net_phase_seconds), the median of the per-call
// ratios against the first library, and whether every library ended with the same bits (parameters and optimizer
// state) as the first: builds that must not change any result have to say "same bits".
// --floats: the training set as float32 (4 bytes a pixel, d4j_net_train_data D4J_DATA_F32), as `--float-pixels`
// gives it in the Java API.
// --call STEPS: steps per d4j_net_train_data call (default 64, the Java API's Trainer.STEPS_PER_CALL).
// Usage: bench_ab_libs [--epochs N] [--threads T] [--floats] [--call STEPS] LIB[@NAME=VALUE] LIB[@NAME=VALUE] ...
//   LIB: a path to a libdense4j_cpu.so (copy each build to its own path first); @NAME=VALUE sets that environment
//   variable before each call of that library and around its d4j_net_create (and unsets it before the others'), for
//   a build read at run time (D4J_COLUMN_STEP=1 is read at creation).
//   D4J_BENCH_IDX: the directory of the uncompressed Fashion-MNIST train IDX files (default /tmp/fm).
#include <dlfcn.h>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <numeric>
#include <random>
#include <string>
#include <vector>
#include "dense4j.h"

namespace {

bool wall_clock = false;  // more than one thread: the workers' time is not the caller's CPU time

double now() {
    timespec t;
    clock_gettime(wall_clock ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

std::vector<unsigned char> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[(size_t)(q * (v.size() - 1))];
}

void* aligned_floats(size_t n) {
    void* p = nullptr;
    return posix_memalign(&p, 64, n * sizeof(float)) == 0 ? p : nullptr;
}

// One library: the functions the step needs, and its network.
struct Lib {
    std::string path, env_name, env_value;
    void (*set_threads)(int);
    int64_t (*param_count)(int, const int32_t*);
    d4j_net* (*create)(int, const int32_t*, const int32_t*, const float*, int, int, float*, float*, int, const float*,
                       float*, float, float);
    int (*train)(d4j_net*, const void*, int, float, const int32_t*, const float*, const int32_t*, int64_t, int64_t,
                 int, int, const float*, int64_t*, uint64_t, double*);
    int (*phases)(d4j_net*, double*, int);
    void (*destroy)(d4j_net*);
    int64_t (*state_stride)(int64_t) = nullptr;  // builds with d4j_net_set_opt_stride: the state slots padded to lines
    int (*set_stride)(d4j_net*, int64_t) = nullptr;
    int64_t (*column_steps)(d4j_net*) = nullptr;  // builds with the column step
    int64_t stride = 0;
    d4j_net* net = nullptr;
    float *params = nullptr, *grads = nullptr, *state = nullptr;
    int64_t step = 0;
    std::vector<double> epoch_us, call_us, ratio;
};

template <class F>
bool sym(void* h, const char* name, F& f) {
    f = reinterpret_cast<F>(dlsym(h, name));
    if (!f) std::fprintf(stderr, "missing %s: %s\n", name, dlerror());
    return f != nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    int epochs = 5, threads = 1, call = 64;
    bool floats = false;
    std::vector<Lib> libs;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if (a == "--epochs" && i + 1 < argc) epochs = std::atoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--floats") floats = true;
        else if (a == "--call" && i + 1 < argc) call = std::max(1, std::atoi(argv[++i]));
        else {
            Lib l{};
            const size_t at = a.find('@');
            l.path = a.substr(0, at);
            if (at != std::string::npos) {
                const size_t eq = a.find('=', at);
                l.env_name = a.substr(at + 1, eq == std::string::npos ? std::string::npos : eq - at - 1);
                l.env_value = eq == std::string::npos ? "1" : a.substr(eq + 1);
            }
            libs.push_back(l);
        }
    }
    if (libs.size() < 2 || epochs < 1 || threads < 1) {
        std::fprintf(stderr, "usage: bench_ab_libs [--epochs N] [--threads T] [--floats] [--call STEPS] LIB[@NAME=VALUE] ...\n");
        return 2;
    }
    wall_clock = threads > 1;
    for (Lib& l : libs) {
        void* h = dlopen(l.path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) { std::fprintf(stderr, "%s\n", dlerror()); return 1; }
        if (!sym(h, "d4j_set_num_threads", l.set_threads) || !sym(h, "d4j_param_count", l.param_count) ||
            !sym(h, "d4j_net_create", l.create) || !sym(h, "d4j_net_train_data", l.train) ||
            !sym(h, "d4j_net_phase_seconds", l.phases) || !sym(h, "d4j_net_destroy", l.destroy))
            return 1;
        // optional: older builds lack them (then the slots are back to back, as those builds' Java API kept them)
        l.state_stride = reinterpret_cast<int64_t (*)(int64_t)>(dlsym(h, "d4j_opt_state_stride"));
        l.set_stride = reinterpret_cast<int (*)(d4j_net*, int64_t)>(dlsym(h, "d4j_net_set_opt_stride"));
        l.column_steps = reinterpret_cast<int64_t (*)(d4j_net*)>(dlsym(h, "d4j_net_column_steps"));
    }
    const char* dir = std::getenv("D4J_BENCH_IDX");
    const std::string d = dir ? dir : "/tmp/fm";
    const auto img = read_file(d + "/train-images-idx3-ubyte"), lab = read_file(d + "/train-labels-idx1-ubyte");
    const int N = 60000, IN = 784;
    if (img.size() != 16 + (size_t)N * IN || lab.size() != 8 + (size_t)N) {
        std::fprintf(stderr, "%s: no uncompressed 60,000-row Fashion-MNIST train IDX files\n", d.c_str());
        return 1;
    }
    void* (*alloc_pages)(size_t);
    void* h0 = dlopen(libs[0].path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!sym(h0, "d4j_alloc_pages", alloc_pages)) return 1;
    // the Java API's training set: 2 MB pages; bytes (converted while gathered) or floats b / 255f
    void* x = alloc_pages((size_t)N * IN * (floats ? 4 : 1));
    if (!x) return 1;
    if (floats)
        for (size_t i = 0; i < (size_t)N * IN; i++) static_cast<float*>(x)[i] = img[16 + i] / 255.0f;
    else
        std::memcpy(x, img.data() + 16, (size_t)N * IN);
    const int x_type = floats ? D4J_DATA_F32 : D4J_DATA_U8;
    const float x_divisor = floats ? 1.0f : 255.0f;
    std::vector<int32_t> labels(N);
    for (int i = 0; i < N; i++) labels[i] = lab[8 + i];

    const int32_t sizes[3] = {784, 128, 10}, acts[2] = {D4J_ACT_RELU, D4J_ACT_SOFTMAX};
    const int64_t np = libs[0].param_count(2, sizes);
    std::vector<float> init(np);
    std::mt19937 gen(5);
    std::uniform_real_distribution<float> u(-0.05f, 0.05f);
    for (auto& p : init) p = u(gen);
    const float hp[5] = {0.9f, 0.999f, 1e-7f, 0, 0};
    for (Lib& l : libs) {
        l.set_threads(threads);
        l.params = static_cast<float*>(aligned_floats(np));
        l.grads = static_cast<float*>(aligned_floats(np));
        l.stride = l.state_stride && l.set_stride ? l.state_stride(np) : np;
        l.state = static_cast<float*>(aligned_floats(3 * l.stride));
        if (!l.params || !l.grads || !l.state) return 1;
        std::memcpy(l.params, init.data(), np * 4);
        std::memset(l.grads, 0, np * 4);
        std::memset(l.state, 0, 3 * l.stride * 4);
        if (!l.env_name.empty()) setenv(l.env_name.c_str(), l.env_value.c_str(), 1);  // (read at creation too)
        l.net = l.create(2, sizes, acts, nullptr, D4J_LOSS_SPARSE_CCE, 32, l.params, l.grads, D4J_OPT_ADAM, hp,
                         l.state, 0, 0);
        if (!l.env_name.empty()) unsetenv(l.env_name.c_str());
        if (!l.net || (l.stride != np && l.set_stride(l.net, l.stride) != D4J_OK)) return 1;
    }
    std::vector<int32_t> order(N);
    std::iota(order.begin(), order.end(), 0);
    const int nb = N / 32;
    std::vector<float> lrs(call, 1e-3f);
    std::FILE* la = std::fopen("/proc/loadavg", "r");
    char load[64] = "?";
    if (la) { if (!std::fgets(load, sizeof load, la)) load[0] = 0; std::fclose(la); }
    std::printf("# bench_ab_libs: %d epochs (+1 warm-up), %d thread(s) (%s), %s rows, load average %s", epochs,
                threads, wall_clock ? "wall time" : "CPU time", floats ? "float" : "byte", load);
    std::vector<double> ph0(libs.size() * 8);
    int turn = 0;
    for (int e = 0; e <= epochs; e++) {  // epoch 0 warms up
        std::shuffle(order.begin(), order.end(), gen);
        if (e == 1)
            for (size_t i = 0; i < libs.size(); i++) libs[i].phases(libs[i].net, &ph0[i * 8], 8);
        std::vector<double> spent(libs.size(), 0.0);
        for (int b0 = 0; b0 < nb; b0 += call, turn++) {
            const int n = std::min(call, nb - b0);
            std::vector<double> dt(libs.size());
            for (size_t k = 0; k < libs.size(); k++) {
                const size_t i = turn % 2 ? libs.size() - 1 - k : k;  // A B ..., then ... B A
                Lib& l = libs[i];
                for (const Lib& o : libs) if (!o.env_name.empty()) unsetenv(o.env_name.c_str());
                if (!l.env_name.empty()) setenv(l.env_name.c_str(), l.env_value.c_str(), 1);
                const double t0 = now();
                const int rc = l.train(l.net, x, x_type, x_divisor, labels.data(), nullptr, order.data(), N,
                                       (int64_t)b0 * 32, 32, n, lrs.data(), &l.step, 1, nullptr);
                dt[i] = now() - t0;
                if (rc != D4J_OK) { std::fprintf(stderr, "%s: error %d\n", l.path.c_str(), rc); return 1; }
            }
            for (size_t i = 0; i < libs.size(); i++) {
                spent[i] += dt[i];
                if (e > 0) {
                    libs[i].call_us.push_back(dt[i] / n * 1e6);
                    libs[i].ratio.push_back(dt[i] / dt[0]);
                }
            }
        }
        if (e > 0)
            for (size_t i = 0; i < libs.size(); i++) libs[i].epoch_us.push_back(spent[i] / nb * 1e6);
    }
    const double steps = (double)epochs * nb;
    for (size_t i = 0; i < libs.size(); i++) {
        Lib& l = libs[i];
        double ph[8] = {};
        l.phases(l.net, ph, 8);
        bool same = std::memcmp(l.params, libs[0].params, np * 4) == 0;
        for (int slot = 0; slot < 3; slot++)
            same = same && std::memcmp(l.state + slot * l.stride, libs[0].state + slot * libs[0].stride, np * 4) == 0;
        std::printf("%c %s%s%s%s: step %.1f us (epochs:", 'A' + (int)i, l.path.c_str(), l.env_name.empty() ? "" : " @",
                    l.env_name.c_str(), l.env_name.empty() ? "" : ("=" + l.env_value).c_str(), median(l.epoch_us));
        for (double t : l.epoch_us) std::printf(" %.1f", t);
        std::printf("), calls p10 %.1f p50 %.1f; vs A per call %.4f; phases us:", percentile(l.call_us, 0.1),
                    median(l.call_us), median(l.ratio));
        for (int p = 0; p < 6; p++) std::printf(" %.1f", (ph[p] - ph0[i * 8 + p]) / steps * 1e6);
        std::printf("; %s", i == 0 ? "reference bits" : same ? "same bits" : "DIFFERENT BITS");
        if (l.column_steps) std::printf("; column steps %.0f%%", 100.0 * l.column_steps(l.net) / l.step);
        std::printf("\n");
    }
    for (Lib& l : libs) l.destroy(l.net);
    return 0;
}
