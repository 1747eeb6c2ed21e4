#!/bin/sh
# Address-space limits keep their meaning under slabmalloc: the heap takes
# address space as it grows. VmSize after start is close to a run without
# the allocator; under RLIMIT_AS, set before start (ulimit -v) or lowered
# after, malloc of 1 MiB blocks serves at least 90 % of what glibc serves,
# then NULL with ENOMEM, and threads can still be created. Blocks whose
# size is not a power of two of pages fill the heap as well: at least 90 %
# of glibc's count until NULL.
. "$top_srcdir/tests/preload/lib.sh"
prog=$top_builddir/tests/preload/aslimit

vmsize_check() { # NAME CMD...: VmSize (kB) on stdout, with and without
	name=$1; shift
	ref=$("$@" | tr -dc 0-9); got=$(LD_PRELOAD="$SM_LIB" "$@" | tr -dc 0-9)
	if [ -n "$ref" ] && [ -n "$got" ] && [ "$got" -le $((ref + 8192)) ]; then
		ok 0 "$name: VmSize $got kB under slabmalloc, $ref kB without (within 8 MiB)"
	else
		ok 1 "$name: VmSize ${got:-?} kB under slabmalloc, ${ref:-?} kB without (within 8 MiB)"
	fi
}
vmsize_check "a C program after its first allocations" "$prog" vmsize
vmsize_check "grep reading its own status" sh -c 'exec grep VmSize /proc/self/status'

# fill_check WHEN KB: WHEN is before (ulimit -v in the child before exec) or
# after (setrlimit once the allocator has served requests).
fill_check() {
	when=$1 kb=$2
	if [ "$when" = before ]; then
		ref=$(ulimit -v "$kb" && "$prog" fill)
		got=$(ulimit -v "$kb" && LD_PRELOAD="$SM_LIB" "$prog" fill)
	else
		ref=$("$prog" fill "$kb")
		got=$(LD_PRELOAD="$SM_LIB" "$prog" fill "$kb")
	fi
	diag "limit $kb kB set $when start: glibc: $ref; slabmalloc: $got"
	set -- $ref; rn=${2:-0}
	set -- $got; got_n=${2:-0} err=${4:-0} held=${6:-0} freed=${8:-0}
	ok $([ "$got_n" -gt 0 ] && [ $((got_n * 10)) -ge $((rn * 9)) ] && [ $((got_n * 1024)) -le "$kb" ]; echo $?) \
		"limit $kb kB set $when start: $got_n blocks of 1 MiB, glibc $rn (at least 90 %, within the limit)"
	ok $([ "$err" -eq 12 ]; echo $?) "limit $kb kB set $when start: then NULL with ENOMEM (errno $err)"
	ok $([ "$held" -eq 1 ] && [ "$freed" -eq 1 ]; echo $?) \
		"limit $kb kB set $when start: pthread_create works with the blocks held ($held) and freed ($freed)"
}
fill_check before 2000000
fill_check after 2000000
fill_check before 600000
fill_check after 600000

# size_check BYTES KB: blocks of BYTES until NULL under ulimit -v KB (set
# before start), against glibc.
size_check() {
	size=$1 kb=$2
	ref=$(ulimit -v "$kb" && "$prog" fill 0 "$size")
	got=$(ulimit -v "$kb" && LD_PRELOAD="$SM_LIB" "$prog" fill 0 "$size")
	diag "$size-byte blocks, limit $kb kB: glibc: $ref; slabmalloc: $got"
	set -- $ref; rn=${2:-0}
	set -- $got; got_n=${2:-0} err=${4:-0}
	ok $([ "$got_n" -gt 0 ] && [ $((got_n * 10)) -ge $((rn * 9)) ] && [ "$err" -eq 12 ]; echo $?) \
		"$size-byte blocks, limit $kb kB: $got_n until NULL with ENOMEM, glibc $rn (at least 90 %)"
}
for size in 40000 100000 300000 3000000; do
	size_check $size 600000
done
done_testing
