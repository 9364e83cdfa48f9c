/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Measures ext4_write_tree (not installed): ext4-write TAR IMAGE SIZE-MiB */
#include <archive.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../builder/ext4.h"
#include "../../builder/util.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: ext4-write TAR IMAGE SIZE-MiB\n");
		return 2;
	}
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, argv[1], 1 << 20) != ARCHIVE_OK) {
		fprintf(stderr, "ext4-write: %s\n", archive_error_string(a));
		return 1;
	}
	struct ext4_params p = {.size = strtoull(argv[3], NULL, 10) << 20, .label = "ROOT",
				.uuid = "0b6e7a53-3c56-4e4b-9d7c-3a5e1f0b2a11",
				.hash_seed = "5d1c2f3e-4a5b-4c6d-8e7f-8091a2b3c4d5", .time = 1700000000};
	struct ext4_result res;
	char err[1024];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = ext4_write_tree(argv[2], &p, a, &res, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	archive_read_free(a);
	if (r < 0) {
		fprintf(stderr, "ext4-write: %s (%s)\n", err, mk_strerror(r));
		return 1;
	}
	printf("%llu entries, %llu bytes in %.2f s\n", (unsigned long long)res.entries,
	       (unsigned long long)res.bytes, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
