#!/bin/sh
# python3 loads the library with ctypes.CDLL (dlopen, RTLD_LOCAL) after it
# has started, calls the kernel-style API from several threads, dlcloses it,
# and then lets a thread that used it exit.
. "$top_srcdir/tests/preload/lib.sh"
if ! command -v python3 >/dev/null 2>&1; then
	skip "python3 ctypes.CDLL loads the library" "python3 not installed"
	done_testing
	exit
fi
cat >"$tmp/plugin.py" <<'PY'
import ctypes, sys, threading
GFP_KERNEL = 0x10 | 0x40 | 0x80
lib = ctypes.CDLL(sys.argv[1])          # RTLD_LOCAL, after start-up
vp, sz, uint, ulong = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_ulong
lib.slabmalloc_kmalloc.restype = vp
lib.slabmalloc_kmalloc.argtypes = [sz, uint]
lib.slabmalloc_kfree.argtypes = [vp]
lib.slabmalloc_ksize.restype = sz
lib.slabmalloc_ksize.argtypes = [vp]
lib.slabmalloc_kmem_cache_create.restype = vp
lib.slabmalloc_kmem_cache_create.argtypes = [ctypes.c_char_p, sz, sz, ulong, vp, vp]
lib.slabmalloc_kmem_cache_alloc.restype = vp
lib.slabmalloc_kmem_cache_alloc.argtypes = [vp, uint]
lib.slabmalloc_kmem_cache_free.argtypes = [vp, vp]
lib.slabmalloc_kmem_cache_destroy.argtypes = [vp]
lib.slabmalloc_alloc_pages.restype = vp
lib.slabmalloc_alloc_pages.argtypes = [uint, uint]
lib.slabmalloc___free_pages.argtypes = [vp, uint]
lib.slabmalloc_vmalloc.restype = vp
lib.slabmalloc_vmalloc.argtypes = [ulong]
lib.slabmalloc_vfree.argtypes = [vp]
cache = lib.slabmalloc_kmem_cache_create(b"py_objs", 72, 0, 0, None, None)
assert cache, "kmem_cache_create"
errors = []

def work(n):
    try:
        for i in range(n):
            size = (16, 100, 3000, 40000, 500000)[i % 5]
            p = lib.slabmalloc_kmalloc(size, GFP_KERNEL)
            assert p and lib.slabmalloc_ksize(p) >= size, "kmalloc"
            ctypes.memset(p, i & 0xff, size)
            assert ctypes.string_at(p + size - 1, 1)[0] == i & 0xff
            lib.slabmalloc_kfree(p)
            o = lib.slabmalloc_kmem_cache_alloc(cache, GFP_KERNEL)
            assert o, "kmem_cache_alloc"
            lib.slabmalloc_kmem_cache_free(cache, o)
            pg = lib.slabmalloc_alloc_pages(GFP_KERNEL, i % 2)
            assert pg, "alloc_pages"
            lib.slabmalloc___free_pages(pg, i % 2)
        v = lib.slabmalloc_vmalloc(200000)
        assert v, "vmalloc"
        lib.slabmalloc_vfree(v)
    except Exception as e:
        errors.append(repr(e))

threads = [threading.Thread(target=work, args=(2000,)) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
assert lib.slabmalloc_kmem_cache_destroy(cache) == 0, "kmem_cache_destroy"

# A thread that used the library exits after dlclose.
used, go = threading.Event(), threading.Event()
def late():
    work(50)
    used.set()
    go.wait()
t = threading.Thread(target=late)
t.start()
work(10)
used.wait()
import _ctypes
_ctypes.dlclose(lib._handle)
del lib
go.set()
t.join()
if errors:
    print("errors:", errors[:3])
    sys.exit(1)
print("ok")
PY
out=$(timeout 120 python3 "$tmp/plugin.py" "$SM_LIB" 2>"$tmp/py.err"); st=$?
[ $st -eq 0 ] && [ "$out" = ok ]
ok $? "python3 ctypes.CDLL: kmalloc, kmem_cache, pages, vmalloc from 4 threads; dlclose; a thread that used it exits (status $st)"
[ $st -eq 0 ] || diag "stdout: $out; stderr: $(tail -c 600 "$tmp/py.err")"
done_testing
