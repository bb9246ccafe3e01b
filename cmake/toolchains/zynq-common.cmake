# Shared part of the Zynq toolchain files: Debian's cross compiler for DAPA_TRIPLET with
# the core's DAPA_CPU_FLAGS (and DAPA_CXX_EXTRA_FLAGS for C++), the target's libraries
# from a Debian sysroot (scripts/make-sysroot.sh), and qemu-user to run the target's
# binaries (ctest, train_vit) on the build machine.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${DAPA_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${DAPA_TRIPLET}-g++)
set(CMAKE_C_FLAGS_INIT "${DAPA_CPU_FLAGS}")
string(STRIP "${DAPA_CPU_FLAGS} ${DAPA_CXX_EXTRA_FLAGS}" CMAKE_CXX_FLAGS_INIT)
set(CMAKE_LIBRARY_ARCHITECTURE ${DAPA_TRIPLET})

# The sysroot: -DDAPA_SYSROOT=DIR or the environment variable of the same name.
if(NOT DAPA_SYSROOT AND DEFINED ENV{DAPA_SYSROOT})
  set(DAPA_SYSROOT $ENV{DAPA_SYSROOT})
endif()
if(NOT DAPA_SYSROOT OR NOT EXISTS ${DAPA_SYSROOT}/usr/lib/${DAPA_TRIPLET})
  message(FATAL_ERROR "DAPA_SYSROOT: '${DAPA_SYSROOT}' is not a ${DAPA_TRIPLET} sysroot "
                      "(make one with scripts/make-sysroot.sh)")
endif()
set(DAPA_SYSROOT ${DAPA_SYSROOT} CACHE PATH "Debian sysroot of the target" FORCE)
# Try-compiles (compiler checks) run in fresh projects: hand them the sysroot too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES DAPA_SYSROOT)
set(CMAKE_SYSROOT ${DAPA_SYSROOT})
set(CMAKE_FIND_ROOT_PATH ${DAPA_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Debian keeps the serial HDF5 under lib/<triplet>/hdf5/serial and include/hdf5/serial;
# FindHDF5 cannot run the target's h5cc wrapper, so it is told where they are.
set(HDF5_INCLUDE_DIRS ${DAPA_SYSROOT}/usr/include/hdf5/serial)
set(HDF5_C_INCLUDE_DIR ${DAPA_SYSROOT}/usr/include/hdf5/serial)
set(HDF5_CXX_INCLUDE_DIR ${DAPA_SYSROOT}/usr/include/hdf5/serial)
set(HDF5_C_LIBRARY_hdf5 ${DAPA_SYSROOT}/usr/lib/${DAPA_TRIPLET}/hdf5/serial/libhdf5.so)
set(HDF5_CXX_LIBRARY_hdf5_cpp ${DAPA_SYSROOT}/usr/lib/${DAPA_TRIPLET}/hdf5/serial/libhdf5_cpp.so)
set(HDF5_CXX_LIBRARY_hdf5 ${DAPA_SYSROOT}/usr/lib/${DAPA_TRIPLET}/hdf5/serial/libhdf5.so)
set(HDF5_NO_FIND_PACKAGE_CONFIG_FILE ON)
set(HDF5_PREFER_PARALLEL OFF)

# ctest and the build's own tools run target binaries through qemu-user.
set(CMAKE_CROSSCOMPILING_EMULATOR ${DAPA_QEMU};-L;${DAPA_SYSROOT})
