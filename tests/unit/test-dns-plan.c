/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The records `mkmesh deploy` wants: before the droplet exists (no
 * addresses), with both addresses, and with IPv4 only, V6 given as "" (as
 * do_api_droplet_address returns it) or NULL (which was read through). */
#include "dns_plan.h"
#include "tests.h"

static void expect(const struct dns_want *w, const char *name, const char *type, const char *data)
{
	ASSERT_STREQ(w->name, name);
	ASSERT_STREQ(w->type, type);
	ASSERT_STREQ(w->data, data);
}

/* the CAA and SRV records, the same in every plan, from OUT[FIRST] on */
static void expect_tail(const struct dns_want *out, size_t first)
{
	expect(&out[first], "matrix", "CAA", "letsencrypt.org");
	ASSERT_STREQ(out[first].tag, "issue");
	ASSERT_EQ(out[first].flags, 0);
	expect(&out[first + 1], "chat", "CAA", "letsencrypt.org");
	expect(&out[first + 2], "_matrix._tcp", "SRV", "matrix.example.org.");
	ASSERT_EQ(out[first + 2].priority, 10);
	ASSERT_EQ(out[first + 2].weight, 0);
	ASSERT_EQ(out[first + 2].port, 8448);
}

TEST(before_the_droplet_exists_a_and_aaaa_have_no_address)
{
	struct dns_want out[DNS_PLAN_MAX_WANTS];
	ASSERT_EQ(dns_plan_wants("example.org", NULL, NULL, out), 7);
	expect(&out[0], "matrix", "A", "");
	expect(&out[1], "chat", "A", "");
	expect(&out[2], "matrix", "AAAA", "");
	expect(&out[3], "chat", "AAAA", "");
	expect_tail(out, 4);
}

TEST(both_addresses)
{
	struct dns_want out[DNS_PLAN_MAX_WANTS];
	ASSERT_EQ(dns_plan_wants("example.org", "203.0.113.10", "2001:db8::10", out), 7);
	expect(&out[0], "matrix", "A", "203.0.113.10");
	expect(&out[1], "chat", "A", "203.0.113.10");
	expect(&out[2], "matrix", "AAAA", "2001:db8::10");
	expect(&out[3], "chat", "AAAA", "2001:db8::10");
	expect_tail(out, 4);
}

TEST(ipv4_only_has_no_aaaa)
{
	struct dns_want out[DNS_PLAN_MAX_WANTS];
	ASSERT_EQ(dns_plan_wants("example.org", "203.0.113.10", "", out), 5);
	expect(&out[0], "matrix", "A", "203.0.113.10");
	expect(&out[1], "chat", "A", "203.0.113.10");
	expect_tail(out, 2);
	/* V6 NULL with V4 set: the same, not a read through NULL */
	struct dns_want out2[DNS_PLAN_MAX_WANTS];
	ASSERT_EQ(dns_plan_wants("example.org", "203.0.113.10", NULL, out2), 5);
	expect(&out2[0], "matrix", "A", "203.0.113.10");
	expect(&out2[1], "chat", "A", "203.0.113.10");
	expect_tail(out2, 2);
}
