# 32-bit big-endian PowerPC Linux: Debian gcc-powerpc-linux-gnu, run under qemu-ppc.
set(VTIO_CROSS_TRIPLET powerpc-linux-gnu)
set(VTIO_CROSS_MULTIARCH powerpc-linux-gnu)
set(VTIO_CROSS_PROCESSOR powerpc)
set(VTIO_CROSS_QEMU qemu-ppc)
set(VTIO_CROSS_BIG_ENDIAN 1)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake)
