/* SPDX-License-Identifier: MIT */
/* <slabmalloc/percpu.h> — per-CPU variables (to be completed). */
#ifndef SLABMALLOC_PERCPU_H
#define SLABMALLOC_PERCPU_H
#endif
