/* SPDX-License-Identifier: MIT */
/*
 * layers.c — the list of layers, in order: initialisation bottom-up, thread
 * exit top-down, fork handlers in the lock order of internal.h (the
 * facilities above the API, mempool and percpu, run theirs through the
 * hooks they registered: sm_fork_register).
 *
 * Floor "init" of src/layers.txt, with init.c: it calls every layer below
 * and nothing above.
 */
#include "kmalloc.h"

void sm_init_layers(void)
{
	options_init();
	buddy_init();
	vmap_init();
	slab_init();
	mag_init();
	kmalloc_init();
}

void sm_thread_exit_layers(void)
{
	kmalloc_thread_exit();
	mag_thread_exit();
	buddy_drain_local();
}

void sm_prefork_layers(void)
{
	slab_prefork();
	mag_prefork();
	slab_debug_prefork();
	slab_prefork_slabs();
	buddy_prefork();
	vmap_prefork();
	kfence_prefork();
	sm_fork_leaves_prepare();
	sm_bg_prefork();
}

void sm_postfork_parent_layers(void)
{
	sm_bg_postfork_parent();
	sm_fork_leaves_parent();
	kfence_postfork_parent();
	vmap_postfork_parent();
	buddy_postfork_parent();
	slab_postfork_parent_slabs();
	slab_debug_postfork_parent();
	mag_postfork_parent();
	slab_postfork_parent();
}

void sm_postfork_child_layers(void)
{
	introspect_postfork_child();
	sm_bg_postfork_child();
	sm_fork_leaves_child();
	kfence_postfork_child();
	vmap_postfork_child();
	buddy_postfork_child();
	slab_debug_postfork_child();
	mag_postfork_child();
	slab_postfork_child();
}
