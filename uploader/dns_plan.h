/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The DNS records `mkmesh deploy` wants for a droplet's services. */
#ifndef MK_DNS_PLAN_H
#define MK_DNS_PLAN_H

#include <stddef.h>

/* One record: NAME (relative to the domain) TYPE DATA; PRIORITY, PORT and
 * WEIGHT for SRV, FLAGS and TAG for CAA. */
struct dns_want {
	const char *name, *type;
	char data[256]; /* "" while the droplet does not exist yet */
	int priority, port, weight, flags;
	const char *tag;
};

/* A and AAAA for matrix and chat, their CAA, the _matrix._tcp SRV. */
#define DNS_PLAN_MAX_WANTS 7

/* Fills OUT with the records for DOMAIN and returns how many. V4 NULL: the
 * droplet does not exist yet, so the A and AAAA records are there with no
 * address (a dry run's plan). Otherwise the A records point at V4, and
 * the AAAA records are there only when V6 is a non-empty address (NULL or
 * "": the droplet has no IPv6). */
size_t dns_plan_wants(const char *domain, const char *v4, const char *v6,
		      struct dns_want out[DNS_PLAN_MAX_WANTS]);

#endif
