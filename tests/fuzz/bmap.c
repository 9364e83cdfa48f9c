/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bmap_parse() on a block map (mkmesh flash --bmap FILE) that is the input,
 * given as the exact bytes (not NUL-terminated: the function takes a
 * length). For a map it accepted: what mkmesh flash relies on (ranges
 * ascending, inside the image, offsets that fit an off_t) and that
 * bmap_format() of it parses back to the same map.
 */
#include "fuzz.h"
#include "bmap.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_init();
	return 0;
}

static void check_map(const struct bmap *b)
{
	uint64_t mapped = 0;
	FUZZ_CHECK(b->block_size && !(b->block_size & (b->block_size - 1)), "block size %u", b->block_size);
	/* mkmesh flash preads and pwrites at these offsets */
	FUZZ_CHECK(b->image_size <= (uint64_t)INT64_MAX, "image size %llu does not fit an off_t",
		   (unsigned long long)b->image_size);
	FUZZ_CHECK(b->blocks_count == b->image_size / b->block_size + (b->image_size % b->block_size != 0),
		   "%llu blocks of %u bytes for %llu bytes", (unsigned long long)b->blocks_count, b->block_size,
		   (unsigned long long)b->image_size);
	for (size_t i = 0; i < b->n_ranges; i++) {
		const struct bmap_range *r = &b->ranges[i];
		FUZZ_CHECK(r->first <= r->last && r->last < b->blocks_count, "range %zu", i);
		FUZZ_CHECK(i == 0 || r->first > b->ranges[i - 1].last, "range %zu not ascending", i);
		size_t n = strlen(r->sha256);
		FUZZ_CHECK(n == 0 || (n == 64 && strspn(r->sha256, "0123456789abcdef") == 64),
			   "range %zu: chksum '%s' is not a sha256", i, r->sha256);
		mapped += r->last - r->first + 1;
	}
	FUZZ_CHECK(mapped == b->mapped_count, "mapped %llu, the ranges hold %llu",
		   (unsigned long long)b->mapped_count, (unsigned long long)mapped);
	FUZZ_CHECK(bmap_mapped_bytes(b) <= b->image_size, "more mapped bytes than the image has");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024] = "";
	struct bmap b;
	int rc = bmap_parse((const char *)data, size, &b, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || err[0], "rc %d without a message", rc);
	if (rc < 0)
		return 0;
	check_map(&b);
	bool all_sums = true;
	for (size_t i = 0; i < b.n_ranges; i++)
		all_sums &= b.ranges[i].sha256[0] != '\0';
	if (all_sums) {
		char *text = bmap_format(&b);
		struct bmap again;
		rc = bmap_parse(text, strlen(text), &again, err, sizeof(err));
		FUZZ_CHECK(rc == 0, "bmap_format() of a parsed map does not parse: %s", err);
		FUZZ_CHECK(again.image_size == b.image_size && again.block_size == b.block_size &&
				   again.blocks_count == b.blocks_count && again.mapped_count == b.mapped_count &&
				   again.n_ranges == b.n_ranges,
			   "the map changed in bmap_format() and back");
		for (size_t i = 0; i < b.n_ranges; i++)
			FUZZ_CHECK(again.ranges[i].first == b.ranges[i].first &&
					   again.ranges[i].last == b.ranges[i].last &&
					   !strcmp(again.ranges[i].sha256, b.ranges[i].sha256),
				   "range %zu changed in bmap_format() and back", i);
		bmap_release(&again);
		free(text);
	}
	bmap_release(&b);
	return 0;
}
