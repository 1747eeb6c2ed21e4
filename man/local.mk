# Man pages: section 1 (the tools), 3 (the kernel-style API), 7 (the
# malloc family and the options). Written in man(7); an alias is a
# one-line .so page (man/man3/kfree.3 is ".so man3/kmalloc.3").
# tests/unit/man.sh lints them with mandoc -T lint (or groff -ww -z) and
# renders each with man -l.
dist_man1_MANS = man/man1/slabmalloc.1 man/man1/slabmalloc-top.1 \
	man/man1/slabmalloc-ctl.1
dist_man7_MANS = man/man7/slabmalloc.7
dist_man3_MANS = \
	man/man3/alloc_bootmem.3 \
	man/man3/alloc_pages.3 \
	man/man3/alloc_percpu.3 \
	man/man3/ioremap.3 \
	man/man3/kmalloc.3 \
	man/man3/kmem_cache_create.3 \
	man/man3/mempool_create.3 \
	man/man3/vmalloc.3 \
	man/man3/DECLARE_PER_CPU.3 \
	man/man3/DEFINE_PER_CPU.3 \
	man/man3/__alloc_percpu.3 \
	man/man3/__free_page.3 \
	man/man3/__free_pages.3 \
	man/man3/__get_free_page.3 \
	man/man3/__get_free_pages.3 \
	man/man3/alloc_bootmem_low.3 \
	man/man3/alloc_bootmem_low_pages.3 \
	man/man3/alloc_bootmem_pages.3 \
	man/man3/alloc_page.3 \
	man/man3/alloc_pages_exact.3 \
	man/man3/alloc_pages_node.3 \
	man/man3/alloc_percpu_gfp.3 \
	man/man3/for_each_possible_cpu.3 \
	man/man3/free_bootmem.3 \
	man/man3/free_cold_page.3 \
	man/man3/free_hot_page.3 \
	man/man3/free_page.3 \
	man/man3/free_pages.3 \
	man/man3/free_pages_exact.3 \
	man/man3/free_percpu.3 \
	man/man3/get_cpu.3 \
	man/man3/get_cpu_ptr.3 \
	man/man3/get_cpu_var.3 \
	man/man3/get_order.3 \
	man/man3/get_zeroed_page.3 \
	man/man3/iounmap.3 \
	man/man3/kcalloc.3 \
	man/man3/kfree.3 \
	man/man3/kmalloc_array.3 \
	man/man3/kmem_cache_alloc.3 \
	man/man3/kmem_cache_alloc_bulk.3 \
	man/man3/kmem_cache_destroy.3 \
	man/man3/kmem_cache_free.3 \
	man/man3/kmem_cache_free_bulk.3 \
	man/man3/kmem_cache_name.3 \
	man/man3/kmem_cache_shrink.3 \
	man/man3/kmem_cache_size.3 \
	man/man3/kmem_cache_zalloc.3 \
	man/man3/krealloc.3 \
	man/man3/ksize.3 \
	man/man3/kzalloc.3 \
	man/man3/mempool_alloc.3 \
	man/man3/mempool_alloc_pages.3 \
	man/man3/mempool_alloc_slab.3 \
	man/man3/mempool_create_kmalloc_pool.3 \
	man/man3/mempool_create_page_pool.3 \
	man/man3/mempool_create_slab_pool.3 \
	man/man3/mempool_destroy.3 \
	man/man3/mempool_free.3 \
	man/man3/mempool_free_pages.3 \
	man/man3/mempool_free_slab.3 \
	man/man3/mempool_kfree.3 \
	man/man3/mempool_kmalloc.3 \
	man/man3/mempool_resize.3 \
	man/man3/num_possible_cpus.3 \
	man/man3/page_address.3 \
	man/man3/per_cpu.3 \
	man/man3/per_cpu_ptr.3 \
	man/man3/put_cpu.3 \
	man/man3/put_cpu_ptr.3 \
	man/man3/put_cpu_var.3 \
	man/man3/smp_processor_id.3 \
	man/man3/this_cpu_add.3 \
	man/man3/this_cpu_dec.3 \
	man/man3/this_cpu_inc.3 \
	man/man3/this_cpu_ptr.3 \
	man/man3/this_cpu_read.3 \
	man/man3/this_cpu_sub.3 \
	man/man3/this_cpu_write.3 \
	man/man3/vfree.3 \
	man/man3/virt_to_page.3 \
	man/man3/vzalloc.3
