# Imports the OpenBLAS that ships in the JavaCPP Presets jar (org.bytedeco:openblas) for the CPU benchmarks, which
# measure our kernels against it (libdense4j_cpu itself does not use it). Maven's native build passes the extracted
# preset; without one, D4J_HAVE_OPENBLAS is OFF and the benchmarks are not built (the library and tests are).
# The jar has libopenblas.so.0 but no unversioned libopenblas.so: linking by full path avoids picking up a system
# OpenBLAS by accident.
set(D4J_OPENBLAS_DIR "" CACHE PATH "directory holding include/cblas.h and libopenblas.so.0 (the extracted preset)")
if(D4J_OPENBLAS_DIR AND EXISTS "${D4J_OPENBLAS_DIR}/include/cblas.h" AND EXISTS "${D4J_OPENBLAS_DIR}/libopenblas.so.0")
  set(D4J_HAVE_OPENBLAS ON)
  add_library(d4j_openblas SHARED IMPORTED)
  set_target_properties(d4j_openblas PROPERTIES
    IMPORTED_LOCATION "${D4J_OPENBLAS_DIR}/libopenblas.so.0"
    IMPORTED_NO_SONAME OFF
    INTERFACE_INCLUDE_DIRECTORIES "${D4J_OPENBLAS_DIR}/include")
else()
  set(D4J_HAVE_OPENBLAS OFF)
  message(STATUS "Dense4J: no OpenBLAS (D4J_OPENBLAS_DIR='${D4J_OPENBLAS_DIR}'): bench_cpu and bench_input_grad, "
                 "which compare against it, are not built")
endif()
