/* A program with its own kmalloc/kfree/mempool_create, as a driver port or
 * a library might have: under LD_PRELOAD of slabmalloc it must keep calling
 * its own. */
#include <stdio.h>
#include <stdlib.h>

static int own_calls;
void *kmalloc(size_t size, int flags) { (void)flags; own_calls++; return malloc(size); }
void kfree(void *p) { own_calls++; free(p); }
void *mempool_create(int n, void *a, void *f, void *d) { (void)n; (void)a; (void)f; (void)d; own_calls++; return NULL; }

int main(void)
{
	void *p = kmalloc(10, 0);
	kfree(p);
	mempool_create(1, 0, 0, 0);
	printf("own=%d\n", own_calls);
	return own_calls == 3 ? 0 : 1;
}
