/*
 * proc.h - the DRAC procedures (program 900101, versions 1 to 3), for
 * the RPC codec: rpc_prog.lookup is proc_lookup, rpc_prog.ctx the struct
 * server (policy.h) they run in.
 */
#ifndef DRACD_PROC_H
#define DRACD_PROC_H

#include <stdint.h>

#include "policy.h"
#include "rpcmsg.h"

const struct svc_proc *proc_lookup(uint32_t vers, uint32_t proc);

#endif
