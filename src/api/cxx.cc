// SPDX-License-Identifier: MIT
/*
 * cxx.cc — the C++ allocation functions: operator new and new[] (plain,
 * nothrow, aligned, aligned+nothrow), operator delete and delete[] (plain,
 * sized, aligned, sized+aligned, and their nothrow forms), exported from
 * the library so that a C++ program preloading or linking it allocates
 * from it without the C++ runtime's round trip through malloc's PLT entry.
 *
 * API floor (src/layers.txt): built on the malloc family of malloc.c (same
 * floor) and on sm_free_sized, which checks a sized delete against the size
 * asked for when slub_debug knows it (docs/debugging.md).
 *
 * Failure follows the standard ([new.delete.single]): the throwing forms
 * loop calling the installed std::new_handler while allocation fails and
 * throw std::bad_alloc when there is none; the nothrow forms do the same
 * but return nullptr where the throwing form would throw (a new_handler
 * that throws bad_alloc included). operator new(0) returns a unique
 * pointer, as malloc(0) does.
 */
#include <cstddef>
#include <new>

#define SM_EXPORT __attribute__((visibility("default")))

extern "C" {
void *malloc(std::size_t size) noexcept;
void free(void *p) noexcept;
void *aligned_alloc(std::size_t align, std::size_t size) noexcept;
/* malloc.c (hidden): free @p whose size the caller says is @size. */
__attribute__((visibility("hidden")))
void sm_free_sized(void *p, std::size_t size, const char *caller) noexcept;
}

namespace {

void *alloc_or_throw(std::size_t size, std::size_t align)
{
	for (;;) {
		void *p = align ? aligned_alloc(align, size ? size : 1) : malloc(size);
		if (__builtin_expect(p != nullptr, 1))
			return p;
		std::new_handler h = std::get_new_handler();
		if (!h)
			throw std::bad_alloc();
		h();
	}
}

void *alloc_or_null(std::size_t size, std::size_t align) noexcept
{
	try {
		return alloc_or_throw(size, align);
	} catch (...) {
		return nullptr;
	}
}

} // namespace

SM_EXPORT void *operator new(std::size_t size)
{
	void *p = malloc(size);
	if (__builtin_expect(p != nullptr, 1))
		return p;
	return alloc_or_throw(size, 0);
}

SM_EXPORT void *operator new[](std::size_t size)
{
	void *p = malloc(size);
	if (__builtin_expect(p != nullptr, 1))
		return p;
	return alloc_or_throw(size, 0);
}

SM_EXPORT void *operator new(std::size_t size, const std::nothrow_t &) noexcept
{
	return alloc_or_null(size, 0);
}

SM_EXPORT void *operator new[](std::size_t size, const std::nothrow_t &) noexcept
{
	return alloc_or_null(size, 0);
}

SM_EXPORT void *operator new(std::size_t size, std::align_val_t al)
{
	return alloc_or_throw(size, static_cast<std::size_t>(al));
}

SM_EXPORT void *operator new[](std::size_t size, std::align_val_t al)
{
	return alloc_or_throw(size, static_cast<std::size_t>(al));
}

SM_EXPORT void *operator new(std::size_t size, std::align_val_t al,
                             const std::nothrow_t &) noexcept
{
	return alloc_or_null(size, static_cast<std::size_t>(al));
}

SM_EXPORT void *operator new[](std::size_t size, std::align_val_t al,
                               const std::nothrow_t &) noexcept
{
	return alloc_or_null(size, static_cast<std::size_t>(al));
}

SM_EXPORT void operator delete(void *p) noexcept
{
	free(p);
}

SM_EXPORT void operator delete[](void *p) noexcept
{
	free(p);
}

SM_EXPORT void operator delete(void *p, const std::nothrow_t &) noexcept
{
	free(p);
}

SM_EXPORT void operator delete[](void *p, const std::nothrow_t &) noexcept
{
	free(p);
}

SM_EXPORT void operator delete(void *p, std::size_t size) noexcept
{
	sm_free_sized(p, size, "operator delete");
}

SM_EXPORT void operator delete[](void *p, std::size_t size) noexcept
{
	sm_free_sized(p, size, "operator delete[]");
}

SM_EXPORT void operator delete(void *p, std::align_val_t) noexcept
{
	free(p);
}

SM_EXPORT void operator delete[](void *p, std::align_val_t) noexcept
{
	free(p);
}

SM_EXPORT void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
	free(p);
}

SM_EXPORT void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
	free(p);
}

SM_EXPORT void operator delete(void *p, std::size_t size, std::align_val_t) noexcept
{
	sm_free_sized(p, size, "operator delete");
}

SM_EXPORT void operator delete[](void *p, std::size_t size, std::align_val_t) noexcept
{
	sm_free_sized(p, size, "operator delete[]");
}
