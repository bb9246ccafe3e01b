# Every third-party dependency comes from a Debian package (scripts/install-deps.sh) and is found here.
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(xtl REQUIRED)
find_package(xtensor REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(HDF5 REQUIRED COMPONENTS C CXX)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(ZLIB REQUIRED)
# PCRE2 (8-bit): Unicode letter and number classes for GPT-2's pre-tokenizer, which
# std::regex lacks. Found by path, so cross builds find the sysroot's copy.
find_path(PCRE2_INCLUDE_DIR pcre2.h REQUIRED)
find_library(PCRE2_LIBRARY pcre2-8 REQUIRED)
add_library(dapa_pcre2 INTERFACE)
target_include_directories(dapa_pcre2 SYSTEM INTERFACE ${PCRE2_INCLUDE_DIR})
target_link_libraries(dapa_pcre2 INTERFACE ${PCRE2_LIBRARY})

# OpenBLAS, OpenMP build: it shares libgomp's thread pool with our kernels and runs
# single-threaded when called inside one of our parallel regions (no oversubscription).
# Debian installs the variants side by side; pick the OpenMP one explicitly.
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(_dapa_multiarch ${CMAKE_LIBRARY_ARCHITECTURE})
endif()
find_library(OPENBLAS_LIBRARY NAMES openblas
  PATH_SUFFIXES ${_dapa_multiarch}/openblas-openmp openblas-openmp
  NO_CMAKE_SYSTEM_PATH)
if(NOT OPENBLAS_LIBRARY)
  find_library(OPENBLAS_LIBRARY NAMES openblas
    PATHS /usr/lib/${_dapa_multiarch}/openblas-openmp NO_DEFAULT_PATH)
endif()
find_path(OPENBLAS_INCLUDE_DIR NAMES cblas.h
  PATHS /usr/include/${_dapa_multiarch}/openblas-openmp
  PATH_SUFFIXES ${_dapa_multiarch}/openblas-openmp openblas-openmp openblas
  NO_DEFAULT_PATH)
if(NOT OPENBLAS_LIBRARY OR NOT OPENBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: install libopenblas-openmp-dev "
                      "(scripts/install-deps.sh)")
endif()
message(STATUS "OpenBLAS: ${OPENBLAS_LIBRARY} (headers ${OPENBLAS_INCLUDE_DIR})")
add_library(dapa_openblas INTERFACE)
target_link_libraries(dapa_openblas INTERFACE ${OPENBLAS_LIBRARY})
target_include_directories(dapa_openblas SYSTEM INTERFACE ${OPENBLAS_INCLUDE_DIR})

# oneDNN's sgemm (x86-64 only): its JIT kernels pack less and run the ViT's large
# products 1.5-2.7x faster than OpenBLAS here (bench_gemm); the small per-head products
# go to libxsmm (below), faster there. Debian builds oneDNN with OpenMP too (one thread
# pool). On ARM, oneDNN has no NEON sgemm kernels, so OpenBLAS does everything.
add_library(dapa_onednn INTERFACE)
if(DAPA_ONEDNN AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  find_library(DNNL_LIBRARY NAMES dnnl)
  find_path(DNNL_INCLUDE_DIR NAMES oneapi/dnnl/dnnl.h)
  if(NOT DNNL_LIBRARY OR NOT DNNL_INCLUDE_DIR)
    message(FATAL_ERROR "oneDNN not found: install libdnnl-dev (scripts/install-deps.sh), "
                        "or configure with -DDAPA_ONEDNN=OFF to use OpenBLAS for every product")
  endif()
  message(STATUS "oneDNN: ${DNNL_LIBRARY}")
  target_link_libraries(dapa_onednn INTERFACE ${DNNL_LIBRARY})
  target_include_directories(dapa_onednn SYSTEM INTERFACE ${DNNL_INCLUDE_DIR})
  target_compile_definitions(dapa_onednn INTERFACE DAPA_HAVE_ONEDNN=1)
endif()

# libxsmm (x86-64 only): JIT kernels for the products below oneDNN's threshold, the
# attention's per-head products above all. It picks its kernels from the CPU's feature
# bits, where OpenBLAS 0.3.21 looks the model up in a table and falls back to SSE3
# kernels on CPUs newer than itself; see docs/design.md. Debian ships it static only.
add_library(dapa_libxsmm INTERFACE)
if(DAPA_LIBXSMM AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  find_library(LIBXSMM_LIBRARY NAMES libxsmm.a xsmm)
  find_path(LIBXSMM_INCLUDE_DIR NAMES libxsmm.h)
  if(NOT LIBXSMM_LIBRARY OR NOT LIBXSMM_INCLUDE_DIR)
    message(FATAL_ERROR "libxsmm not found: install libxsmm-dev (scripts/install-deps.sh), "
                        "or configure with -DDAPA_LIBXSMM=OFF to use OpenBLAS for small products")
  endif()
  message(STATUS "libxsmm: ${LIBXSMM_LIBRARY}")
  # Its fallback path calls the BLAS's sgemm_, which OpenBLAS provides.
  target_link_libraries(dapa_libxsmm INTERFACE ${LIBXSMM_LIBRARY} dapa_openblas ${CMAKE_DL_LIBS} rt)
  target_include_directories(dapa_libxsmm SYSTEM INTERFACE ${LIBXSMM_INCLUDE_DIR})
  target_compile_definitions(dapa_libxsmm INTERFACE DAPA_HAVE_LIBXSMM=1)
endif()

# Open MPI (libopenmpi-dev): data-parallel training (train/comm.cpp). Optional: without
# it everything builds, and training runs on one process. Cross builds find it by path in
# the sysroot (FindMPI would ask the host's mpicc, which names the host's libraries).
add_library(dapa_mpi INTERFACE)
if(DAPA_MPI AND CMAKE_CROSSCOMPILING)
  find_path(MPI_CROSS_INCLUDE_DIR mpi.h PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openmpi/include)
  find_library(MPI_CROSS_LIBRARY mpi PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openmpi/lib)
  if(MPI_CROSS_INCLUDE_DIR AND MPI_CROSS_LIBRARY)
    message(STATUS "MPI: ${MPI_CROSS_LIBRARY} (sysroot; data-parallel training)")
    target_include_directories(dapa_mpi SYSTEM INTERFACE ${MPI_CROSS_INCLUDE_DIR})
    target_link_libraries(dapa_mpi INTERFACE ${MPI_CROSS_LIBRARY})
    target_compile_definitions(dapa_mpi INTERFACE DAPA_HAVE_MPI=1)
    set(DAPA_HAVE_MPI ON)
  else()
    message(STATUS "MPI: not in the sysroot (libopenmpi-dev): training runs on one process")
  endif()
elseif(DAPA_MPI)
  find_package(MPI COMPONENTS C)
  if(MPI_C_FOUND)
    message(STATUS "MPI: ${MPI_C_LIBRARIES} (data-parallel training)")
    target_link_libraries(dapa_mpi INTERFACE MPI::MPI_C)
    target_compile_definitions(dapa_mpi INTERFACE DAPA_HAVE_MPI=1)
    set(DAPA_HAVE_MPI ON)
  else()
    message(STATUS "MPI: not found (install libopenmpi-dev): training runs on one process")
  endif()
endif()

add_library(dapa_hdf5 INTERFACE)
target_include_directories(dapa_hdf5 SYSTEM INTERFACE ${HDF5_INCLUDE_DIRS})
target_link_libraries(dapa_hdf5 INTERFACE ${HDF5_CXX_LIBRARIES} ${HDF5_LIBRARIES})
target_compile_definitions(dapa_hdf5 INTERFACE ${HDF5_DEFINITIONS})
