// Checks a built libdense4j_cuda from the outside, as the JNI binding sees it: it exports every function that
// dense4j_cuda.h declares (else the binding fails to load with "undefined symbol"), and, when it is the placeholder
// built without a CUDA compiler (no_cuda.cpp), every CUDA call answers D4J_CUDA_ERR_NO_DEVICE with the message
// "this build has no CUDA library" while the host-only functions work.
//   cuda_library_test HEADER LIBRARY
#include "dense4j_cuda.h"
#include <dlfcn.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

static int failures = 0;
static void check(bool ok, const std::string& what) {
    if (!ok) ++failures;
    printf("%-4s %s\n", ok ? "ok" : "FAIL", what.c_str());
}

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s HEADER LIBRARY\n", argv[0]); return 2; }
    std::ifstream in(argv[1]);
    std::stringstream text;
    text << in.rdbuf();
    std::set<std::string> names;
    const std::string h = text.str();
    std::regex decl(R"(\b(d4j_cuda_[a-z0-9_]+)\s*\()");
    for (auto it = std::sregex_iterator(h.begin(), h.end(), decl); it != std::sregex_iterator(); ++it)
        names.insert((*it)[1]);
    check(names.size() >= 30, "the header declares " + std::to_string(names.size()) + " functions");
    void* lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { printf("FAIL dlopen %s: %s\n", argv[2], dlerror()); return 1; }
    std::string missing;
    for (const auto& n : names)
        if (!dlsym(lib, n.c_str())) missing += " " + n;
    check(missing.empty(), std::string(argv[2]) + " exports every function of the header" +
                               (missing.empty() ? "" : ", missing:" + missing));

    auto built = (int (*)())dlsym(lib, "d4j_cuda_built_with_cuda");
    auto last = (const char* (*)())dlsym(lib, "d4j_cuda_last_error");
    auto count = (int (*)(int*))dlsym(lib, "d4j_cuda_device_count");
    auto alloc = (void* (*)(int64_t))dlsym(lib, "d4j_cuda_malloc");
    auto sync = (int (*)())dlsym(lib, "d4j_cuda_synchronize");
    auto create = (d4j_cuda_net* (*)(int, const int32_t*, const int32_t*, const float*, int, int, float*, float*, int,
                                      const float*, float*, float, float))dlsym(lib, "d4j_cuda_net_create");
    auto params = (int64_t (*)(int, const int32_t*))dlsym(lib, "d4j_cuda_param_count");
    auto set_prec = (int (*)(int))dlsym(lib, "d4j_cuda_set_precision");
    auto get_prec = (int (*)())dlsym(lib, "d4j_cuda_get_precision");
    if (!built || !last || !count || !alloc || !sync || !create || !params || !set_prec || !get_prec) return 1;
    const int32_t sizes[] = {784, 128, 10}, acts[] = {1, 5};
    check(params(2, sizes) == 784 * 128 + 128 + 128 * 10 + 10, "param_count works without a device");
    check(set_prec(D4J_CUDA_PRECISION_TF32) == D4J_CUDA_OK && get_prec() == D4J_CUDA_PRECISION_TF32 &&
              set_prec(7) == D4J_CUDA_ERR_ARGUMENT && set_prec(D4J_CUDA_PRECISION_FP32) == D4J_CUDA_OK,
          "settings work without a device");
    if (built() == 1) {
        printf("(the CUDA library: its behaviour is cuda_kernels_test's and cuda_kernels_emu_test's subject)\n");
    } else {
        const std::string why = "this build has no CUDA library";
        int n = -1;
        check(count(&n) == D4J_CUDA_ERR_NO_DEVICE && n == 0 && std::string(last()).rfind(why, 0) == 0,
              std::string("placeholder: device_count says: ") + last());
        check(alloc(64) == nullptr && std::string(last()).rfind(why, 0) == 0, "placeholder: malloc returns NULL");
        check(sync() == D4J_CUDA_ERR_NO_DEVICE, "placeholder: synchronize");
        float dummy = 0;
        check(create(2, sizes, acts, nullptr, 0, 32, &dummy, nullptr, 0, nullptr, nullptr, 0, 0) == nullptr &&
                  std::string(last()).rfind(why, 0) == 0,
              "placeholder: net_create returns NULL");
    }
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
