# Shared part of the Debian cross toolchain files (included by
# <triplet>.cmake after it sets VTIO_CROSS_TRIPLET, VTIO_CROSS_MULTIARCH,
# VTIO_CROSS_PROCESSOR and VTIO_CROSS_QEMU).
#
# Compilers: Debian's gcc-<triplet> packages; sysroot /usr/<triplet>.
# CMocka, first found wins:
#   1. <source>/build-cross-deps/<triplet>/ (built from Debian's cmocka source
#      package by scripts/cross-setup.sh; used for powerpc, not a Debian 12
#      release architecture, so libcmocka-dev:powerpc does not exist);
#   2. Debian multiarch libcmocka-dev:<arch> in /usr/lib/<multiarch>.
# Tests run under qemu-user through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${VTIO_CROSS_PROCESSOR})

set(CMAKE_C_COMPILER ${VTIO_CROSS_TRIPLET}-gcc)
# C++ is only used by the header compile tests; they are skipped without it.
find_program(_vtio_cross_cxx ${VTIO_CROSS_TRIPLET}-g++)
if(_vtio_cross_cxx)
  set(CMAKE_CXX_COMPILER ${_vtio_cross_cxx})
endif()

set(_vtio_sysroot /usr/${VTIO_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH ${_vtio_sysroot})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

get_filename_component(_vtio_src_root ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
set(_vtio_cm_built ${_vtio_src_root}/build-cross-deps/${VTIO_CROSS_TRIPLET})
set(_vtio_cm_multi /usr/lib/${VTIO_CROSS_MULTIARCH})
set(_vtio_qemu_root ${_vtio_sysroot})
if(EXISTS ${_vtio_cm_built}/lib/libcmocka.a)
  set(CMOCKA_INCLUDE_DIR ${_vtio_cm_built}/include CACHE PATH "CMocka headers (cross)")
  set(CMOCKA_LIBRARY ${_vtio_cm_built}/lib/libcmocka.a CACHE FILEPATH "CMocka library (cross)")
elseif(EXISTS ${_vtio_cm_multi}/libcmocka.so)
  set(CMOCKA_INCLUDE_DIR /usr/include CACHE PATH "CMocka headers (multiarch, arch-independent)")
  set(CMOCKA_LIBRARY ${_vtio_cm_multi}/libcmocka.so CACHE FILEPATH "CMocka library (multiarch)")
  # Run on the multiarch runtime (libc6:<arch>, which libcmocka0:<arch>
  # pulls in): dynamic programs on the libc6-<arch>-cross sysroot abort
  # under qemu-s390x 7.2 ("stack smashing detected" before main), while the
  # multiarch loader and libc work.
  set(_vtio_qemu_root /)
endif()

set(CMAKE_CROSSCOMPILING_EMULATOR ${VTIO_CROSS_QEMU} -L ${_vtio_qemu_root})
