/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The provenance of a rootfs's packages: dpkg-query's list joined with
 * apt's download URIs (epochs quoted in file names, arch-all packages, a
 * package apt could not place) into the .packages.tsv, and read back. */
#include <fcntl.h>

#include "rootfs.h"
#include "tests.h"
#include "util.h"

static const char dpkg[] =
	"ii \tbsdutils\t1:2.38.1-5+b1\tamd64\tutil-linux\n"
	"ii \ttzdata\t2025b-4\tall\ttzdata\n"
	"rc \tgone\t1.0\tamd64\tgone\n"
	"ii \tlocal-only\t0.1\tamd64\t\n";
static const char uris[] =
	"'http://deb.debian.org/debian/pool/main/u/util-linux/bsdutils_2.38.1-5%2bb1_amd64.deb' "
	"bsdutils_1%3a2.38.1-5+b1_amd64.deb 94412 SHA256:6cae\n"
	"'http://deb.debian.org/debian/pool/main/t/tzdata/tzdata_2025b-4_all.deb' tzdata_2025b-4_all.deb 1 SHA256:3254\n"
	"garbage line\n";

TEST(tsv_joins_dpkg_and_apt)
{
	char *tsv = rootfs_packages_tsv(dpkg, uris);
	ASSERT_STREQ(tsv,
		     "# name\tversion\tarch\tsource\tsha256\tsize\turl\n"
		     "bsdutils\t1:2.38.1-5+b1\tamd64\tutil-linux\t6cae\t94412\t"
		     "http://deb.debian.org/debian/pool/main/u/util-linux/bsdutils_2.38.1-5%2bb1_amd64.deb\n"
		     "tzdata\t2025b-4\tall\ttzdata\t3254\t1\thttp://deb.debian.org/debian/pool/main/t/tzdata/tzdata_2025b-4_all.deb\n"
		     "local-only\t0.1\tamd64\tlocal-only\t\t\t\n");
	char dir[] = "/tmp/mkmesh-test-rootfs.XXXXXX";
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	char *path = xasprintf("%s/x.packages.tsv", dir);
	ASSERT_EQ(mk_write_file_atomic(path, tsv, strlen(tsv), 0644), 0);
	struct rootfs_package *p = NULL;
	size_t n = 0;
	char err[256];
	ASSERT_EQ(rootfs_packages_load(path, &p, &n, err, sizeof(err)), 0);
	ASSERT_EQ(n, 3);
	ASSERT_STREQ(p[0].source, "util-linux");
	ASSERT_EQ(p[0].size, 94412);
	ASSERT_TRUE(p[2].sha256 == NULL && p[2].url == NULL);
	rootfs_packages_free(p, n);
	unlink(path);
	rmdir(dir);
	free(path);
	free(tsv);
}

/* A foreign-architecture build stops before mmdebstrap when arch-test is
 * missing (mmdebstrap needs it; it is only a Recommends), naming the
 * package and the command. PATH points at an empty directory here. */
TEST(foreign_arch_needs_arch_test)
{
	const char *foreign = strcmp(rootfs_host_arch(), "arm64") ? "arm64" : "amd64";
	char dir[] = "/tmp/mkmesh-test-path.XXXXXX";
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	char *old = xstrdup(getenv("PATH") ? getenv("PATH") : "");
	setenv("PATH", dir, 1);
	char err[512] = "";
	int rc = rootfs_check_emulation(foreign, err, sizeof(err));
	setenv("PATH", old, 1);
	ASSERT_EQ(rc, -ENOENT);
	ASSERT_TRUE(strstr(err, "needs 'arch-test', which is not installed") != NULL);
	ASSERT_TRUE(strstr(err, "apt-get install arch-test") != NULL);
	/* The host's own architecture needs neither. */
	setenv("PATH", dir, 1);
	rc = rootfs_check_emulation(rootfs_host_arch(), err, sizeof(err));
	setenv("PATH", old, 1);
	ASSERT_EQ(rc, 0);
	rmdir(dir);
	free(old);
}
