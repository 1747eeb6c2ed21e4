// C++ allocation functions exported by the library: every form, the
// standard's failure behaviour (new_handler, std::bad_alloc, nullptr for
// nothrow), and under slub_debug a sized delete of the wrong size.
#include "tap.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <new>
#include <slabmalloc.h>

static int handler_calls;

static void handler_then_give_up()
{
	if (++handler_calls == 3)
		std::set_new_handler(nullptr);
}

static void handler_throws()
{
	handler_calls++;
	throw std::bad_alloc();
}

static bool from_slabmalloc(void *fn)
{
	Dl_info di;
	return dladdr(fn, &di) && di.dli_fname && strstr(di.dli_fname, "libslabmalloc");
}

static void sized_delete_wrong(void *)
{
	char *p = new char[24];
	::operator delete[](p, 40);
}

static void sized_delete_wrong_scalar(void *)
{
	void *p = ::operator new(100);
	::operator delete(p, 99);
}

int main(int argc, char **argv)
{
	(void)argc;
	const char *env = getenv("SLABMALLOC_OPTIONS");
	if (!env || strcmp(env, "debug=F") != 0) {
		setenv("SLABMALLOC_OPTIONS", "debug=F", 1);
		execv("/proc/self/exe", argv);
		ok(0, "re-executed with debug=F");
		return done_testing();
	}
	alarm(60);
	const std::size_t too_big = (std::size_t)1 << 62;

	void *(*pn)(std::size_t) = &::operator new;
	void *(*pa)(std::size_t) = &::operator new[];
	void (*pd)(void *) noexcept = &::operator delete;
	void (*psd)(void *, std::size_t) noexcept = &::operator delete;
	void *(*pal)(std::size_t, std::align_val_t) = &::operator new;
	ok(from_slabmalloc((void *)pn) && from_slabmalloc((void *)pa) &&
	   from_slabmalloc((void *)pd) && from_slabmalloc((void *)psd) &&
	   from_slabmalloc((void *)pal), "operator new/new[]/delete come from the library");

	int *i = new int(7);
	ok(*i == 7 && slabmalloc_ksize(i) >= sizeof(int), "new: a block of ours");
	delete i;
	int *a = new int[100];
	a[99] = 1;
	delete[] a;
	char *z = new char[0];
	ok(z != nullptr, "new char[0] returns a pointer");
	delete[] z;
	struct alignas(256) big { char c[300]; };
	big *b = new big;
	ok(((uintptr_t)b & 255) == 0, "aligned new (256)");
	delete b;
	big *ba = new big[3];
	ok(((uintptr_t)ba & 255) == 0, "aligned new[] (256)");
	delete[] ba;
	void *al = ::operator new(100, std::align_val_t(4096), std::nothrow);
	ok(al && ((uintptr_t)al & 4095) == 0, "aligned nothrow new (4096)");
	::operator delete(al, std::align_val_t(4096), std::nothrow);
	void *s = ::operator new(64);
	::operator delete(s, 64);
	ok(1, "sized delete of the right size");
	s = ::operator new[](48);
	::operator delete[](s, 48);

	bool threw = false;
	try {
		void *x = ::operator new(too_big);
		::operator delete(x);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	ok(threw, "new of 2^62 bytes throws std::bad_alloc");
	threw = false;
	try {
		void *x = ::operator new[](too_big, std::align_val_t(64));
		::operator delete[](x);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	ok(threw, "aligned new[] of 2^62 bytes throws std::bad_alloc");
	ok(::operator new(too_big, std::nothrow) == nullptr, "nothrow new of 2^62 bytes: nullptr");
	ok(::operator new[](too_big, std::align_val_t(32), std::nothrow) == nullptr,
	   "aligned nothrow new[] of 2^62 bytes: nullptr");

	handler_calls = 0;
	std::set_new_handler(handler_then_give_up);
	threw = false;
	try {
		void *x = ::operator new(too_big);
		::operator delete(x);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	ok(threw && handler_calls == 3, "the new_handler runs until it uninstalls itself");
	handler_calls = 0;
	std::set_new_handler(handler_throws);
	ok(::operator new(too_big, std::nothrow) == nullptr && handler_calls == 1,
	   "nothrow new: a new_handler that throws bad_alloc gives nullptr");
	std::set_new_handler(nullptr);

	expect_death(sized_delete_wrong, nullptr,
	             "operator delete[](): size 40 does not match the allocation of 24 bytes",
	             "debug: sized delete[] of the wrong size");
	expect_death(sized_delete_wrong_scalar, nullptr,
	             "operator delete(): size 99 does not match the allocation of 100 bytes",
	             "debug: sized delete of the wrong size");
	return done_testing();
}
