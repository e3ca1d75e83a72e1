#!/bin/sh
# guest_packed.sh - make check: tests/vm/guest.sh again with packed=on on
# QEMU's devices, so the Linux drivers negotiate packed virtqueues.
VQSIM_VM_RING=packed
export VQSIM_VM_RING
exec sh "${srcdir:-$(dirname "$0")/../..}/tests/vm/guest.sh"
