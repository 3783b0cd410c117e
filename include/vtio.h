/**
 * @file vtio.h
 * @brief Umbrella header: includes every public header of libvirtio-transport.
 */
#ifndef VTIO_H
#define VTIO_H

#include "vtio/config.h"
#include "vtio/port.h"
#include "vtio/error.h"
#include "vtio/spec.h"
#include "vtio/mem.h"
#include "vtio/vq.h"
#include "vtio/devq.h"
#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "vtio/bounce.h"
#include "vtio/transport.h"
#include "vtio/dev.h"
#include "vtio/transport/loopback.h"
#include "vtio/transport/mmio.h"
#include "vtio/transport/mmio_dev.h"
#include "vtio/transport/msgq.h"
#include "vtio/transport/shm.h"

#endif /* VTIO_H */
