/* vqsim.h - libvqsim, the virtio device simulator: everything in one include. */
#ifndef VQSIM_H
#define VQSIM_H

#include "virtio.h"
#include "base.h"
#include "opts.h"
#include "trace.h"
#include "fault.h"
#include "mem.h"
#include "iommu.h"
#include "ring.h"
#include "device.h"
#include "transport.h"
#include "dev.h"
#include "machine.h"
#include "driver.h"

#endif
