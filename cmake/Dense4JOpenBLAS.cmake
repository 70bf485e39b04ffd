# Imports the OpenBLAS that ships in the JavaCPP Presets jar (org.bytedeco:openblas), so that our library
# links against exactly the copy that Loader extracts at run time. The jar has libopenblas.so.0 but no
# unversioned libopenblas.so: linking by full path avoids picking up a system OpenBLAS by accident.
set(D4J_OPENBLAS_DIR "" CACHE PATH "directory holding include/cblas.h and libopenblas.so.0 (the extracted preset)")
if(NOT D4J_OPENBLAS_DIR OR NOT EXISTS "${D4J_OPENBLAS_DIR}/include/cblas.h")
  message(FATAL_ERROR "D4J_OPENBLAS_DIR='${D4J_OPENBLAS_DIR}' does not hold include/cblas.h; "
                      "build through Maven (mvn -pl native package) or pass -DD4J_OPENBLAS_DIR=<extracted preset>")
endif()
add_library(d4j_openblas SHARED IMPORTED)
set_target_properties(d4j_openblas PROPERTIES
  IMPORTED_LOCATION "${D4J_OPENBLAS_DIR}/libopenblas.so.0"
  IMPORTED_NO_SONAME OFF
  INTERFACE_INCLUDE_DIRECTORIES "${D4J_OPENBLAS_DIR}/include")
