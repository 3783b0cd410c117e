/* The ring layouts compiled into the library, for suites that run every
 * test over each of them; and main()'s end in a packed-only suite. */
#ifndef VTIO_TEST_RING_LAYOUTS_H
#define VTIO_TEST_RING_LAYOUTS_H

#include "vtio/vq.h"

/* The packed row is there when the packed layout is compiled in. */
struct fx_layout {
	enum vtio_layout layout;
	const char *name;
};
static const struct fx_layout fx_layouts[] = {
#if VTIO_CONFIG_SPLIT
    {VTIO_LAYOUT_SPLIT, "split"},
#endif
#if VTIO_CONFIG_PACKED
    {VTIO_LAYOUT_PACKED, "packed"},
#endif
};
#define FX_NLAYOUTS (sizeof(fx_layouts) / sizeof(fx_layouts[0]))

/* Run the statement that follows once per compiled layout, with @p L the
 * layout (an enum vtio_layout). */
#define FX_FOR_EACH_LAYOUT(L)                                                                      \
	for (size_t L##_i = 0; L##_i < FX_NLAYOUTS; L##_i++)                                       \
		for (enum vtio_layout L = fx_layouts[L##_i].layout, *L##_once = &L; L##_once;      \
		     L##_once = NULL)

/* main()'s result in a packed-only suite: the CMocka run of @p tests when the
 * packed layout is compiled in, else 0 (nothing to test). */
#if VTIO_CONFIG_PACKED
#define FX_RUN_PACKED_ONLY(tests) cmocka_run_group_tests(tests, NULL, NULL)
#else
#define FX_RUN_PACKED_ONLY(tests) ((void)(tests), 0)
#endif

#endif /* VTIO_TEST_RING_LAYOUTS_H */
