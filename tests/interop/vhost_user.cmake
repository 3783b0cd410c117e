# vhost-user interop tests: our back ends and front end (examples/vhost:
# vtio-vhost-net, vtio-vhost-blk, vtio-vhost-fe) against DPDK testpmd
# (virtio_user and vhost PMDs), qemu-storage-daemon and Linux guests under
# QEMU. What each checks: docs/vhost-user-interop.md.
#
# Two "reference" tests pair the outside peers with each other (testpmd
# virtio_user with testpmd vhost, a QEMU guest with qemu-storage-daemon): when
# one of ours fails and its reference passes, the peer works on this machine.

set(_vu ${CMAKE_CURRENT_SOURCE_DIR})

vtio_add_interop_test(vhost_user_ref_testpmd_pair
  COMMAND ${_vu}/vhost_user_dpdk.sh driver split --backend testpmd TIMEOUT 180)
vtio_add_interop_test(vhost_user_ref_qemu_qsd
  COMMAND ${_vu}/vhost_user_qemu.sh blk split qsd TIMEOUT 180)

# Our programs exist only with the vhost-user target and the examples.
if(NOT (VTIO_BUILD_EXAMPLES AND TARGET vtio_vhost))
  return()
endif()
# The example targets are defined after tests/ is read: their paths are
# generator expressions, resolved at generate time.
set(_vu_env env
  VTIO_PROG_VTIO_VHOST_NET=$<TARGET_FILE:vtio-vhost-net>
  VTIO_PROG_VTIO_VHOST_BLK=$<TARGET_FILE:vtio-vhost-blk>
  VTIO_PROG_VTIO_VHOST_FE=$<TARGET_FILE:vtio-vhost-fe>)

foreach(layout split packed)
  # 1. testpmd virtio_user (driver) -> vtio-vhost-net --mode echo.
  vtio_add_interop_test(vhost_user_dpdk_driver_${layout}
    COMMAND ${_vu_env} ${_vu}/vhost_user_dpdk.sh driver ${layout} TIMEOUT 180)
  vtio_add_interop_test(vhost_user_dpdk_driver_${layout}_nomrg
    COMMAND ${_vu_env} ${_vu}/vhost_user_dpdk.sh driver ${layout} nomrg TIMEOUT 180)
  # 2. vtio-vhost-fe --type net (driver) -> testpmd net_vhost0 io loop.
  vtio_add_interop_test(vhost_user_dpdk_device_${layout}
    COMMAND ${_vu_env} ${_vu}/vhost_user_dpdk.sh device ${layout} TIMEOUT 180)
  # Reconnection: a back end that dies under our front end.
  vtio_add_interop_test(vhost_user_dpdk_backend_dies_${layout}
    COMMAND ${_vu_env} ${_vu}/vhost_user_dpdk.sh backend-dies ${layout} TIMEOUT 180)
  # 2b. vtio-vhost-fe --type blk -> qemu-storage-daemon (packed: refused).
  vtio_add_interop_test(vhost_user_qsd_blk_${layout}
    COMMAND ${_vu_env} ${_vu}/vhost_user_qsd.sh ${layout} TIMEOUT 180)
  # 3. Linux guest under QEMU (driver) -> vtio-vhost-blk / vtio-vhost-net.
  vtio_add_interop_test(vhost_user_qemu_net_${layout}
    COMMAND ${_vu_env} ${_vu}/vhost_user_qemu.sh net ${layout} ours TIMEOUT 180)
endforeach()
vtio_add_interop_test(vhost_user_qemu_blk_split
  COMMAND ${_vu_env} ${_vu}/vhost_user_qemu.sh blk split ours TIMEOUT 180)
# Packed blk with two guests one after the other: the front end goes away and
# comes back, the back end serves both without a restart.
vtio_add_interop_test(vhost_user_qemu_blk_packed_reconnect
  COMMAND ${_vu_env} ${_vu}/vhost_user_qemu.sh blk packed ours --boots 2 TIMEOUT 240)
# The same for net: two guests, one vtio-vhost-net process.
vtio_add_interop_test(vhost_user_qemu_net_split_reconnect
  COMMAND ${_vu_env} ${_vu}/vhost_user_qemu.sh net split ours --boots 2 TIMEOUT 240)
# Reconnection with testpmd: two virtio_user sessions, one back end process.
vtio_add_interop_test(vhost_user_dpdk_driver_reconnect_split
  COMMAND ${_vu_env} ${_vu}/vhost_user_dpdk.sh driver-reconnect split TIMEOUT 180)

# Benchmark smoke run (label bench): one short round, any speed accepted;
# the script fails only when a point could not be measured.
vtio_add_interop_test(vhost_user_bench_smoke
  COMMAND ${_vu_env} ${PROJECT_SOURCE_DIR}/bench/vhost_user/vhost_user_bench.sh
          --smoke --rounds 1 --seconds 1
  LABELS bench TIMEOUT 180)
