/* SPDX-License-Identifier: MIT */
/*
 * layers.c — the list of layers, in order: initialisation bottom-up, thread
 * exit top-down, fork handlers in the lock order of internal.h.
 */
#include "kmalloc.h"

void sm_init_layers(void)
{
	options_init();
	buddy_init();
	slab_init();
	mag_init();
	kmalloc_init();
}

void sm_thread_exit_layers(void)
{
	kmalloc_thread_exit();
	mag_thread_exit();
	buddy_thread_exit();
}

void sm_prefork_layers(void)
{
	slab_prefork();
	mag_prefork();
	slab_prefork_slabs();
	buddy_prefork();
	vmap_prefork();
	mempool_prefork();
}

void sm_postfork_parent_layers(void)
{
	mempool_postfork_parent();
	vmap_postfork_parent();
	buddy_postfork_parent();
	slab_postfork_parent_slabs();
	mag_postfork_parent();
	slab_postfork_parent();
}

void sm_postfork_child_layers(void)
{
	percpu_postfork_child();
	mempool_postfork_child();
	vmap_postfork_child();
	buddy_postfork_child();
	mag_postfork_child();
	slab_postfork_child();
}
