# Zynq-7000: dual Cortex-A9, ARMv7-A with NEON, hard-float (e.g. PYNQ-Z2).
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/zynq7000-armhf.cmake \
#         -DDAPA_SYSROOT=$PWD/sysroot-armhf        (scripts/test-arm.sh armhf does it all)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(DAPA_TRIPLET arm-linux-gnueabihf)
set(DAPA_QEMU qemu-arm)
set(DAPA_CPU_FLAGS "-mcpu=cortex-a9 -mfpu=neon -mfloat-abi=hard")
# -Wno-psabi: GCC notes that parameter passing changed in GCC 7.1 (irrelevant here).
set(DAPA_CXX_EXTRA_FLAGS "-Wno-psabi")
include(${CMAKE_CURRENT_LIST_DIR}/zynq-common.cmake)
