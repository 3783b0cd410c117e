# 32-bit little-endian x86 Linux (uint64_t 4-byte aligned in structs):
# Debian gcc-i686-linux-gnu, multiarch i386, run under qemu-i386.
set(VTIO_CROSS_TRIPLET i686-linux-gnu)
set(VTIO_CROSS_MULTIARCH i386-linux-gnu)
set(VTIO_CROSS_PROCESSOR i686)
set(VTIO_CROSS_QEMU qemu-i386)
set(VTIO_CROSS_BIG_ENDIAN 0)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake)
