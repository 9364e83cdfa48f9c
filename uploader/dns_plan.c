/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "dns_plan.h"

#include <stdio.h>

size_t dns_plan_wants(const char *domain, const char *v4, const char *v6,
		      struct dns_want out[DNS_PLAN_MAX_WANTS])
{
	static const char *const hosts[] = {"matrix", "chat"};
	size_t n = 0;
	for (size_t i = 0; i < 2; i++) {
		out[n] = (struct dns_want){.name = hosts[i], .type = "A"};
		snprintf(out[n++].data, sizeof(out[0].data), "%s", v4 ? v4 : "");
	}
	if (!v4 || (v6 && *v6)) {
		for (size_t i = 0; i < 2; i++) {
			out[n] = (struct dns_want){.name = hosts[i], .type = "AAAA"};
			snprintf(out[n++].data, sizeof(out[0].data), "%s", v6 ? v6 : "");
		}
	}
	for (size_t i = 0; i < 2; i++) {
		out[n] = (struct dns_want){.name = hosts[i], .type = "CAA", .flags = 0, .tag = "issue"};
		snprintf(out[n++].data, sizeof(out[0].data), "letsencrypt.org");
	}
	out[n] = (struct dns_want){.name = "_matrix._tcp", .type = "SRV", .priority = 10, .weight = 0,
				   .port = 8448};
	snprintf(out[n++].data, sizeof(out[0].data), "matrix.%s.", domain);
	return n;
}
