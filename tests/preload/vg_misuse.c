/* Run under valgrind by vg.sh: one read past a block, one read after free,
 * one uninitialised read, all of memory from slabmalloc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	char *volatile p = malloc(24);
	memset(p, 1, 24);
	char c = p[25];
	free(p);
	char d = p[3];
	char *volatile u = malloc(10);
	if (u[2])
		puts("set");
	printf("%d %d\n", c, d);
	return 0;
}
