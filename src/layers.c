/* SPDX-License-Identifier: MIT */
/*
 * layers.c — the list of layers, in order: initialisation bottom-up, thread
 * exit top-down, fork handlers in the lock order of internal.h.
 */
#include "page_alloc.h"

void sm_init_layers(void)
{
	buddy_init();
}

void sm_thread_exit_layers(void)
{
	buddy_thread_exit();
}

void sm_prefork_layers(void)
{
	buddy_prefork();
	vmap_prefork();
}

void sm_postfork_parent_layers(void)
{
	vmap_postfork_parent();
	buddy_postfork_parent();
}

void sm_postfork_child_layers(void)
{
	vmap_postfork_child();
	buddy_postfork_child();
}
