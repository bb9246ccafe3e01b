# Zynq UltraScale+ MPSoC: Cortex-A53, AArch64.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/zynqmp-aarch64.cmake \
#         -DDAPA_SYSROOT=$PWD/sysroot-arm64      (scripts/test-arm.sh aarch64 does it all)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(DAPA_TRIPLET aarch64-linux-gnu)
set(DAPA_QEMU qemu-aarch64)
set(DAPA_CPU_FLAGS "-mcpu=cortex-a53")
include(${CMAKE_CURRENT_LIST_DIR}/zynq-common.cmake)
