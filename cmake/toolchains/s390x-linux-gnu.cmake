# 64-bit big-endian IBM Z Linux: Debian gcc-s390x-linux-gnu, run under qemu-s390x.
set(VTIO_CROSS_TRIPLET s390x-linux-gnu)
set(VTIO_CROSS_MULTIARCH s390x-linux-gnu)
set(VTIO_CROSS_PROCESSOR s390x)
set(VTIO_CROSS_QEMU qemu-s390x)
set(VTIO_CROSS_BIG_ENDIAN 1)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake)
