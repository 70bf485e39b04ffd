# Compiler settings shared by every Dense4J native target.
# Why these: -O3 for the elementwise loops; x86-64-v3 (AVX2 + FMA) is the oldest CPU we support, so those
# loops vectorise 8 floats wide without a runtime dispatch; no -ffast-math, because the losses rely on
# IEEE inf/NaN behaviour and tests compare against a float64 reference.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()
set(D4J_CPU_ARCH "x86-64-v3" CACHE STRING "value of -march for the CPU kernels")

function(d4j_cpu_target target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter -march=${D4J_CPU_ARCH} -fno-math-errno)
  # The JNI library that JavaCPP builds sits beside ours; $ORIGIN lets the loader find siblings.
  set_target_properties(${target} PROPERTIES BUILD_RPATH "$ORIGIN" INSTALL_RPATH "$ORIGIN")
endfunction()
