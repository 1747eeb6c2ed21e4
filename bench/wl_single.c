/* SPDX-License-Identifier: MIT */
/*
 * bench/wl_single.c — single-threaded programs that allocate many sizes
 * and then use what they allocated: a Barnes-Hut n-body step and an
 * interpreter-like instruction loop.
 *
 * Theory
 * ------
 * The other single-threaded workloads time the allocator's own paths. These
 * two time a program around it, so what counts is also where the objects
 * land: how many cache lines and pages a walk over them touches, whether
 * objects of one size class share lines with their neighbours, and how
 * quickly freed memory is reused hot.
 *
 * N-body. Bodies are malloc'd records on a linked list. Each step builds an
 * octree over them: internal nodes (eight children, centre of mass) of one
 * size, leaves holding 1..LEAF_MAX bodies grown by realloc (several sizes),
 * inserted in list order, so consecutive allocations are scattered over the
 * tree. Then every body walks the tree for its acceleration (the opening
 * criterion THETA: a cell far enough away counts as one mass), which is
 * pointer chasing through nodes, leaves and bodies; the bodies move; the
 * tree is freed depth-first; and one body in 32, chosen by a fixed stream,
 * is replaced by a fresh record of the same state at the head of the list,
 * so over time list order and address order drift apart as in a long-lived
 * program. The arithmetic is the same under every allocator: only memory
 * placement differs.
 *
 * Interpreter. WL_INTERP_VARS variables hold values: boxed integers and
 * floats (16 bytes), strings (a header and 1..300 bytes), lists (a header
 * and an item array grown by realloc) and dicts (a header and an
 * open-addressing table rehashed into a new array). Values are reference
 * counted; a container holds numbers and strings only, so there are no
 * cycles and the live set stays bounded. Each instruction, drawn from a
 * fixed stream, reads one or two variables and assigns a new value to a
 * third (arithmetic, concatenation, slicing, conversion to a string, list
 * and dict building, appends, inserts and look-ups); the old value is
 * released, and a container whose count drops to zero releases its items
 * in order. Half the variables an instruction names come from a hot
 * window of 64 that slides as the program runs, the rest from all of them.
 *
 * The harness's bookkeeping (the variables, the walk stack) is in the
 * mmap'd state block; everything the programs allocate comes from malloc.
 */
#include "config.h"
#include "workloads.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void die(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	abort();
}

static void *xmalloc(size_t size)
{
	void *p = malloc(size);

	if (!p)
		die("malloc failed in a single-thread program");
	return p;
}

static void *xrealloc(void *old, size_t size)
{
	void *p = realloc(old, size);

	if (!p)
		die("realloc failed in a single-thread program");
	return p;
}

static void *map_state(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap failed for a workload's state");
	return p;
}

/* ---- n-body ---- */

#define LEAF_MAX   4                    /* bodies in a leaf before it splits */
#define THETA2     (0.7 * 0.7)          /* opening criterion, squared */
#define SOFT2      1e-4                 /* softening, squared */
#define DT         1e-3
#define REPLACE    32                   /* one body in REPLACE renewed a step */
#define MAX_DEPTH  48                   /* coincident bodies stop splitting */

struct body {
	double b_pos[3];
	double b_vel[3];
	double b_acc[3];
	double b_mass;
	struct body *b_next;
};

/* Tree links are tagged: bit 0 set for a leaf. */
struct node {
	double n_com[3];                    /* centre of mass */
	double n_mass;
	double n_centre[3];                 /* geometric centre of the cell */
	double n_half;                      /* half the cell's side */
	uintptr_t n_child[8];
};

struct leaf {
	double l_com[3];
	double l_mass;
	unsigned int l_nr, l_cap;
	struct body *l_body[];
};

struct wl_nbody {
	struct body *nb_list;
	size_t nb_count;
	unsigned int nb_seed;
};

static inline bool is_leaf(uintptr_t link)
{
	return link & 1;
}

static inline struct leaf *as_leaf(uintptr_t link)
{
	return (struct leaf *)(link & ~(uintptr_t)1);
}

static double unit(unsigned int *seed)
{
	return (double)wl_xorshift32(seed) / 4294967296.0;
}

static struct body *body_new(const struct body *from)
{
	struct body *b = xmalloc(sizeof(*b));

	*b = *from;
	return b;
}

struct wl_nbody *wl_nbody_start(size_t nbodies)
{
	struct wl_nbody *nb = map_state(sizeof(*nb));

	nb->nb_seed = 0x2545f491u;
	nb->nb_count = nbodies;
	for (size_t i = 0; i < nbodies; i++) {
		struct body init = { .b_mass = 1.0 / (double)nbodies };
		struct body *b;

		/* A ball of radius 1 with a slow rotation. */
		do {
			for (int k = 0; k < 3; k++)
				init.b_pos[k] = 2.0 * unit(&nb->nb_seed) - 1.0;
		} while (init.b_pos[0] * init.b_pos[0] + init.b_pos[1] * init.b_pos[1] +
		         init.b_pos[2] * init.b_pos[2] > 1.0);
		init.b_vel[0] = -0.3 * init.b_pos[1];
		init.b_vel[1] = 0.3 * init.b_pos[0];
		b = body_new(&init);
		b->b_next = nb->nb_list;
		nb->nb_list = b;
	}
	return nb;
}

static uintptr_t leaf_new(struct body *b)
{
	struct leaf *l = xmalloc(sizeof(*l) + sizeof(l->l_body[0]));

	l->l_nr = 1;
	l->l_cap = 1;
	l->l_body[0] = b;
	return (uintptr_t)l | 1;
}

static unsigned int octant(const double *centre, const double *pos)
{
	return (pos[0] >= centre[0]) | (pos[1] >= centre[1]) << 1 | (pos[2] >= centre[2]) << 2;
}

static struct node *node_new(const double *centre, double half)
{
	struct node *n = xmalloc(sizeof(*n));

	memcpy(n->n_centre, centre, sizeof(n->n_centre));
	n->n_half = half;
	memset(n->n_child, 0, sizeof(n->n_child));
	return n;
}

static void child_cell(const struct node *n, unsigned int oct, double *centre)
{
	double q = n->n_half / 2;

	for (int k = 0; k < 3; k++)
		centre[k] = n->n_centre[k] + ((oct >> k) & 1 ? q : -q);
}

static void tree_insert(struct node *n, struct body *b, unsigned int depth)
{
	for (;;) {
		unsigned int oct = octant(n->n_centre, b->b_pos);
		uintptr_t link = n->n_child[oct];

		if (!link) {
			n->n_child[oct] = leaf_new(b);
			return;
		}
		if (!is_leaf(link)) {
			n = (struct node *)link;
			depth++;
			continue;
		}
		struct leaf *l = as_leaf(link);

		if (l->l_nr < LEAF_MAX || depth >= MAX_DEPTH) {
			if (l->l_nr == l->l_cap) {
				l->l_cap *= 2;
				l = xrealloc(l, sizeof(*l) + l->l_cap * sizeof(l->l_body[0]));
				n->n_child[oct] = (uintptr_t)l | 1;
			}
			l->l_body[l->l_nr++] = b;
			return;
		}
		/* Split: a node takes the leaf's place and its bodies. */
		double centre[3];

		child_cell(n, oct, centre);
		struct node *c = node_new(centre, n->n_half / 2);

		n->n_child[oct] = (uintptr_t)c;
		for (unsigned int i = 0; i < l->l_nr; i++)
			tree_insert(c, l->l_body[i], depth + 1);
		free(l);
		n = c;
		depth++;
	}
}

/* Masses and centres of mass, bottom up. */
static void tree_mass(uintptr_t link, double *mass, double *com)
{
	double m = 0, c[3] = { 0, 0, 0 };

	if (is_leaf(link)) {
		struct leaf *l = as_leaf(link);

		for (unsigned int i = 0; i < l->l_nr; i++) {
			const struct body *b = l->l_body[i];

			m += b->b_mass;
			for (int k = 0; k < 3; k++)
				c[k] += b->b_mass * b->b_pos[k];
		}
		for (int k = 0; k < 3; k++)
			l->l_com[k] = c[k] / m;
		l->l_mass = m;
		*mass = m;
		memcpy(com, l->l_com, sizeof(l->l_com));
		return;
	}
	struct node *n = (struct node *)link;

	for (unsigned int i = 0; i < 8; i++) {
		double cm, cc[3];

		if (!n->n_child[i])
			continue;
		tree_mass(n->n_child[i], &cm, cc);
		m += cm;
		for (int k = 0; k < 3; k++)
			c[k] += cm * cc[k];
	}
	for (int k = 0; k < 3; k++)
		n->n_com[k] = m > 0 ? c[k] / m : n->n_centre[k];
	n->n_mass = m;
	*mass = m;
	memcpy(com, n->n_com, sizeof(n->n_com));
}

static void pull(double *acc, const double *pos, const double *from, double mass)
{
	double d[3], r2 = SOFT2, inv;

	for (int k = 0; k < 3; k++) {
		d[k] = from[k] - pos[k];
		r2 += d[k] * d[k];
	}
	inv = mass / (r2 * sqrt(r2));
	for (int k = 0; k < 3; k++)
		acc[k] += d[k] * inv;
}

static void tree_force(uintptr_t link, struct body *b, double *acc)
{
	if (is_leaf(link)) {
		struct leaf *l = as_leaf(link);

		for (unsigned int i = 0; i < l->l_nr; i++)
			if (l->l_body[i] != b)
				pull(acc, b->b_pos, l->l_body[i]->b_pos, l->l_body[i]->b_mass);
		return;
	}
	const struct node *n = (const struct node *)link;
	double d2 = 0, side = 2 * n->n_half;

	for (int k = 0; k < 3; k++) {
		double d = n->n_com[k] - b->b_pos[k];

		d2 += d * d;
	}
	if (side * side < THETA2 * d2) {
		pull(acc, b->b_pos, n->n_com, n->n_mass);
		return;
	}
	for (unsigned int i = 0; i < 8; i++)
		if (n->n_child[i])
			tree_force(n->n_child[i], b, acc);
}

static void tree_free(uintptr_t link)
{
	if (is_leaf(link)) {
		free(as_leaf(link));
		return;
	}
	struct node *n = (struct node *)link;

	for (unsigned int i = 0; i < 8; i++)
		if (n->n_child[i])
			tree_free(n->n_child[i]);
	free(n);
}

static void nbody_step(struct wl_nbody *nb)
{
	double lo[3] = { HUGE_VAL, HUGE_VAL, HUGE_VAL }, hi[3] = { -HUGE_VAL, -HUGE_VAL, -HUGE_VAL };
	double centre[3], half = 0, mass, com[3];

	for (struct body *b = nb->nb_list; b; b = b->b_next)
		for (int k = 0; k < 3; k++) {
			if (b->b_pos[k] < lo[k])
				lo[k] = b->b_pos[k];
			if (b->b_pos[k] > hi[k])
				hi[k] = b->b_pos[k];
		}
	for (int k = 0; k < 3; k++) {
		centre[k] = (lo[k] + hi[k]) / 2;
		if ((hi[k] - lo[k]) / 2 > half)
			half = (hi[k] - lo[k]) / 2;
	}
	struct node *root = node_new(centre, half * 1.0001 + 1e-9);

	for (struct body *b = nb->nb_list; b; b = b->b_next)
		tree_insert(root, b, 0);
	tree_mass((uintptr_t)root, &mass, com);
	for (struct body *b = nb->nb_list; b; b = b->b_next) {
		memset(b->b_acc, 0, sizeof(b->b_acc));
		tree_force((uintptr_t)root, b, b->b_acc);
	}
	for (struct body *b = nb->nb_list; b; b = b->b_next)
		for (int k = 0; k < 3; k++) {
			b->b_vel[k] += DT * b->b_acc[k];
			b->b_pos[k] += DT * b->b_vel[k];
		}
	tree_free((uintptr_t)root);

	/* Renew one body in REPLACE: unlink it, copy it to a new record at the
	 * head of the list, free the old one. */
	struct body **pp = &nb->nb_list;

	while (*pp) {
		struct body *b = *pp;

		if (wl_xorshift32(&nb->nb_seed) % REPLACE == 0 && b != nb->nb_list) {
			struct body *c = body_new(b);

			*pp = b->b_next;
			free(b);
			c->b_next = nb->nb_list;
			nb->nb_list = c;
		} else {
			pp = &b->b_next;
		}
	}
}

void wl_nbody_run(struct wl_nbody *nb, size_t iters)
{
	for (size_t i = 0; i < iters; i++)
		nbody_step(nb);
	wl_escape(nb->nb_list);
}

void wl_nbody_stop(struct wl_nbody *nb)
{
	while (nb->nb_list) {
		struct body *b = nb->nb_list;

		nb->nb_list = b->b_next;
		free(b);
	}
	munmap(nb, sizeof(*nb));
}

/* ---- interpreter ---- */

#define STR_MAX     300                 /* longest string */
#define LIST_MAX    64                  /* a longer list drops its head */
#define DICT_MAX    96                  /* a fuller dict is replaced */
#define HOT_VARS    64                  /* the sliding hot window */
#define NUM_MOD     1000000007          /* bound of the boxed numbers */

enum val_type { V_INT, V_FLOAT, V_STR, V_LIST, V_DICT };

struct val {
	uint32_t v_ref;
	uint32_t v_type;
};

struct num {
	struct val hdr;
	union {
		int64_t n_int;
		double n_float;
	};
};

struct str {
	struct val hdr;
	uint32_t s_len;
	uint32_t s_hash;
	char s_data[];                      /* s_len bytes and a NUL */
};

struct list {
	struct val hdr;
	uint32_t l_len, l_cap;
	struct val **l_item;
};

struct entry {
	struct str *e_key;                  /* NULL: empty */
	struct val *e_val;
};

struct dict {
	struct val hdr;
	uint32_t d_used, d_cap;             /* d_cap a power of two */
	struct entry *d_tab;
};

struct wl_interp {
	struct val *in_var[WL_INTERP_VARS];
	unsigned int in_seed;
	unsigned int in_hot;                /* start of the hot window */
};

static void val_release(struct val *v);

static struct val *val_get(struct val *v)
{
	if (v)
		v->v_ref++;
	return v;
}

static void list_release(struct list *l)
{
	for (uint32_t i = 0; i < l->l_len; i++)
		val_release(l->l_item[i]);
	free(l->l_item);
	free(l);
}

static void dict_release(struct dict *d)
{
	for (uint32_t i = 0; i < d->d_cap; i++)
		if (d->d_tab[i].e_key) {
			val_release(&d->d_tab[i].e_key->hdr);
			val_release(d->d_tab[i].e_val);
		}
	free(d->d_tab);
	free(d);
}

static void val_release(struct val *v)
{
	if (!v || --v->v_ref)
		return;
	switch (v->v_type) {
	case V_LIST:
		list_release((struct list *)v);
		break;
	case V_DICT:
		dict_release((struct dict *)v);
		break;
	default:
		free(v);
	}
}

static struct val *int_new(int64_t x)
{
	struct num *n = xmalloc(sizeof(*n));

	n->hdr.v_ref = 1;
	n->hdr.v_type = V_INT;
	n->n_int = x;
	return &n->hdr;
}

static struct val *float_new(double x)
{
	struct num *n = xmalloc(sizeof(*n));

	n->hdr.v_ref = 1;
	n->hdr.v_type = V_FLOAT;
	n->n_float = x;
	return &n->hdr;
}

static uint32_t str_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* A string of @a then @b, cut at STR_MAX bytes. */
static struct str *str_new2(const char *a, size_t alen, const char *b, size_t blen)
{
	struct str *s;

	if (alen > STR_MAX)
		alen = STR_MAX;
	if (alen + blen > STR_MAX)
		blen = STR_MAX - alen;
	s = xmalloc(sizeof(*s) + alen + blen + 1);
	s->hdr.v_ref = 1;
	s->hdr.v_type = V_STR;
	s->s_len = (uint32_t)(alen + blen);
	memcpy(s->s_data, a, alen);
	memcpy(s->s_data + alen, b, blen);
	s->s_data[alen + blen] = 0;
	s->s_hash = str_hash(s->s_data, s->s_len);
	return s;
}

/* Decimal digits of @x into @buf (at least 24 bytes); RETURNS: the length. */
static size_t fmt_int(char *buf, int64_t x)
{
	char tmp[24];
	size_t n = 0, len = 0;
	uint64_t u = x < 0 ? -(uint64_t)x : (uint64_t)x;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (x < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = tmp[--n];
	return len;
}

static int64_t num_of(const struct val *v)
{
	if (!v)
		return 0;
	switch (v->v_type) {
	case V_INT:
		return ((const struct num *)v)->n_int;
	case V_FLOAT:
		return (int64_t)((const struct num *)v)->n_float;
	case V_STR:
		return ((const struct str *)v)->s_len;
	case V_LIST:
		return ((const struct list *)v)->l_len;
	default:
		return ((const struct dict *)v)->d_used;
	}
}

/* @v as a string (a new reference): strings themselves, numbers formatted,
 * containers by their size. */
static struct str *str_of(struct val *v)
{
	char buf[32];
	size_t len;

	if (v && v->v_type == V_STR)
		return (struct str *)val_get(v);
	len = fmt_int(buf, num_of(v));
	return str_new2(buf, len, "", 0);
}

static bool is_scalar(const struct val *v)
{
	return v && v->v_type <= V_STR;
}

static struct val *list_new(struct wl_interp *in, unsigned int nr, const unsigned int *from)
{
	struct list *l = xmalloc(sizeof(*l));

	l->hdr.v_ref = 1;
	l->hdr.v_type = V_LIST;
	l->l_len = 0;
	l->l_cap = nr < 4 ? 4 : nr;
	l->l_item = xmalloc(l->l_cap * sizeof(l->l_item[0]));
	for (unsigned int i = 0; i < nr; i++)
		if (is_scalar(in->in_var[from[i]]))
			l->l_item[l->l_len++] = val_get(in->in_var[from[i]]);
	return &l->hdr;
}

static void list_append(struct list *l, struct val *v)
{
	if (l->l_len == LIST_MAX) {
		val_release(l->l_item[0]);
		memmove(l->l_item, l->l_item + 1, (l->l_len - 1) * sizeof(l->l_item[0]));
		l->l_len--;
	}
	if (l->l_len == l->l_cap) {
		l->l_cap *= 2;
		l->l_item = xrealloc(l->l_item, l->l_cap * sizeof(l->l_item[0]));
	}
	l->l_item[l->l_len++] = val_get(v);
}

static struct val *dict_new(void)
{
	struct dict *d = xmalloc(sizeof(*d));

	d->hdr.v_ref = 1;
	d->hdr.v_type = V_DICT;
	d->d_used = 0;
	d->d_cap = 8;
	d->d_tab = calloc(d->d_cap, sizeof(d->d_tab[0]));
	if (!d->d_tab)
		die("calloc failed in a single-thread program");
	return &d->hdr;
}

static struct entry *dict_find(struct dict *d, const struct str *key)
{
	uint32_t mask = d->d_cap - 1;

	for (uint32_t i = key->s_hash & mask;; i = (i + 1) & mask) {
		struct entry *e = &d->d_tab[i];

		if (!e->e_key || (e->e_key->s_hash == key->s_hash && e->e_key->s_len == key->s_len &&
		                  memcmp(e->e_key->s_data, key->s_data, key->s_len) == 0))
			return e;
	}
}

/* Store @val under @key (both references are taken over). */
static void dict_put(struct dict *d, struct str *key, struct val *val)
{
	struct entry *e;

	if ((d->d_used + 1) * 4 > d->d_cap * 3) {
		struct entry *old = d->d_tab;
		uint32_t cap = d->d_cap;

		d->d_cap *= 2;
		d->d_tab = calloc(d->d_cap, sizeof(d->d_tab[0]));
		if (!d->d_tab)
			die("calloc failed in a single-thread program");
		for (uint32_t i = 0; i < cap; i++)
			if (old[i].e_key)
				*dict_find(d, old[i].e_key) = old[i];
		free(old);
	}
	e = dict_find(d, key);
	if (e->e_key) {
		val_release(&key->hdr);
		val_release(e->e_val);
	} else {
		e->e_key = key;
		d->d_used++;
	}
	e->e_val = val;
}

struct wl_interp *wl_interp_start(void)
{
	struct wl_interp *in = map_state(sizeof(*in));

	in->in_seed = 0x68e31da4u;
	for (unsigned int i = 0; i < WL_INTERP_VARS; i++)
		in->in_var[i] = i % 3 != 2 ? int_new(i) : &str_of(in->in_var[i - 1])->hdr;
	return in;
}

static unsigned int pick(struct wl_interp *in)
{
	unsigned int r = wl_xorshift32(&in->in_seed);

	if (r & 1)
		return (in->in_hot + (r >> 1) % HOT_VARS) % WL_INTERP_VARS;
	return (r >> 1) % WL_INTERP_VARS;
}

static void interp_step(struct wl_interp *in)
{
	unsigned int op = wl_xorshift32(&in->in_seed) % 100;
	unsigned int dst = pick(in), a = pick(in), b = pick(in);
	struct val *va = in->in_var[a], *vb = in->in_var[b], *res;

	if (op < 25) {                      /* arithmetic: a new box */
		/* Numbers stay below NUM_MOD, so nothing overflows. */
		if ((va && va->v_type == V_FLOAT) || op < 5)
			res = float_new((double)(num_of(va) % NUM_MOD) * 0.5 + (double)(num_of(vb) % NUM_MOD));
		else
			res = int_new((num_of(va) + num_of(vb)) % NUM_MOD);
	} else if (op < 40) {               /* concatenation */
		struct str *sa = str_of(va), *sb = str_of(vb);

		res = &str_new2(sa->s_data, sa->s_len, sb->s_data, sb->s_len)->hdr;
		val_release(&sa->hdr);
		val_release(&sb->hdr);
	} else if (op < 48) {               /* slice */
		struct str *sa = str_of(va);
		size_t from = sa->s_len ? (size_t)num_of(vb) % sa->s_len : 0;

		res = &str_new2(sa->s_data + from, (sa->s_len - from + 1) / 2, "", 0)->hdr;
		val_release(&sa->hdr);
	} else if (op < 55) {               /* a list literal */
		unsigned int from[8], nr = wl_xorshift32(&in->in_seed) % 9;

		for (unsigned int i = 0; i < nr; i++)
			from[i] = pick(in);
		res = list_new(in, nr, from);
	} else if (op < 70) {               /* append (in place) */
		if (va && va->v_type == V_LIST && is_scalar(vb))
			list_append((struct list *)va, vb);
		res = val_get(va);
	} else if (op < 74) {               /* a new dict */
		res = dict_new();
	} else if (op < 86) {               /* d[str(b)] = c (in place) */
		if (va && va->v_type == V_DICT) {
			struct dict *d = (struct dict *)va;
			struct val *vc = in->in_var[pick(in)];

			if (d->d_used >= DICT_MAX) {
				res = dict_new();
			} else {
				dict_put(d, str_of(vb), is_scalar(vc) ? val_get(vc) : int_new(num_of(vc)));
				res = val_get(va);
			}
		} else {
			res = dict_new();
		}
	} else if (op < 93) {               /* look-up: d[str(b)] or l[b] */
		res = NULL;
		if (va && va->v_type == V_DICT) {
			struct str *key = str_of(vb);
			struct entry *e = dict_find((struct dict *)va, key);

			res = e->e_key ? val_get(e->e_val) : NULL;
			val_release(&key->hdr);
		} else if (va && va->v_type == V_LIST && ((struct list *)va)->l_len) {
			struct list *l = (struct list *)va;

			res = val_get(l->l_item[(uint64_t)num_of(vb) % l->l_len]);
		}
		if (!res)
			res = int_new(num_of(vb) % NUM_MOD);
	} else {                            /* str(a) */
		res = &str_of(va)->hdr;
	}
	/* Assign: the old value goes (the new one may be the same). */
	struct val *old = in->in_var[dst];

	in->in_var[dst] = res;
	val_release(old);
	if ((wl_xorshift32(&in->in_seed) & 255) == 0)
		in->in_hot = (in->in_hot + HOT_VARS / 2) % WL_INTERP_VARS;
}

void wl_interp_run(struct wl_interp *in, size_t iters)
{
	for (size_t i = 0; i < iters; i++)
		interp_step(in);
	wl_escape(in->in_var);
}

void wl_interp_stop(struct wl_interp *in)
{
	for (unsigned int i = 0; i < WL_INTERP_VARS; i++)
		val_release(in->in_var[i]);
	munmap(in, sizeof(*in));
}
