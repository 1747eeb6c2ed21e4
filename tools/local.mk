# Tools installed with the library: the launcher, and the live
# introspection tools, which read a running process's statistics segment
# (docs/introspection.md). They share the segment's layout with the
# library (src/introspect.h) and nothing else.
bin_SCRIPTS += tools/slabmalloc
bin_PROGRAMS = tools/slabmalloc-top tools/slabmalloc-ctl
noinst_LIBRARIES = tools/libsmi.a
tools_libsmi_a_SOURCES = tools/smi.c tools/smi.h src/introspect.h
tools_libsmi_a_CPPFLAGS = -I$(top_srcdir)/src -I$(top_builddir)
tools_libsmi_a_CFLAGS = -Wall -Wextra
tools_slabmalloc_ctl_SOURCES = tools/slabmalloc-ctl.c
tools_slabmalloc_ctl_CPPFLAGS = $(tools_libsmi_a_CPPFLAGS)
tools_slabmalloc_ctl_CFLAGS = $(tools_libsmi_a_CFLAGS)
tools_slabmalloc_ctl_LDADD = tools/libsmi.a
tools_slabmalloc_top_SOURCES = tools/slabmalloc-top.c
tools_slabmalloc_top_CPPFLAGS = $(tools_libsmi_a_CPPFLAGS) $(NCURSES_CFLAGS)
tools_slabmalloc_top_CFLAGS = $(tools_libsmi_a_CFLAGS)
tools_slabmalloc_top_LDADD = tools/libsmi.a $(NCURSES_LIBS)
EXTRA_DIST += tools/slabmalloc.in tools/install-deps tools/setup
