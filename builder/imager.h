/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Raspberry Pi Imager's repository file (rpi-imager.json, "os_list"), as
 * `make release` writes it beside the rpi image and `mkmesh verify` checks
 * it: Imager refuses to finish a card whose extracted image does not have
 * extract_sha256, so that hash is checked here against the image itself.
 * Library code: no logging.
 */
#ifndef MK_IMAGER_H
#define MK_IMAGER_H

#include <stdbool.h>
#include <stdint.h>

/* The file name rpi-imager.json is written under. */
#define IMAGER_JSON "rpi-imager.json"

/*
 * The sha256 (64 hex digits) and size of what the zstd file FD holds (all
 * its frames), read from its current offset, never more than MAX bytes
 * decompressed: 0, -EFBIG when there is more, -EPIPE when the stream is cut
 * short, -MK_ERR_CHECKSUM when it is not zstd or corrupt, -errno.
 */
int imager_zstd_digest(int fd, uint64_t max, char sha[65], uint64_t *size);

/* A date as Imager shows it: YYYY-MM-DD with a real month and day. */
bool imager_date_valid(const char *s);

#endif
