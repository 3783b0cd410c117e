# Bare-metal firmware built from sources.mk drives QEMU's own virtio-mmio
# devices through the mmio transport (tests/interop/qemu_mmio.py,
# docs/qemu-interop.md): one test per architecture x device x ring layout,
# each booting QEMU once per feature variant. The test builds the firmware
# itself with the cross compiler it installs (once per architecture, under
# a lock, into the interop scratch directory).
find_program(VTIO_PYTHON3 python3)
if(VTIO_PYTHON3)
  foreach(_arch rv64 rv32 aarch64)
    foreach(_dev blk rng con)
      foreach(_layout split packed)
        vtio_add_interop_test(qemu_mmio_${_arch}_${_dev}_${_layout}
          COMMAND ${VTIO_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/qemu_mmio.py
                  --arch ${_arch} --device ${_dev} --layout ${_layout}
          LABELS qemu
          TIMEOUT 240)
      endforeach()
    endforeach()
  endforeach()
else()
  message(STATUS "python3 not found: the qemu_mmio interop tests are not registered")
endif()
