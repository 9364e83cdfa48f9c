build-asan/builder/cmd_build.o: builder/cmd_build.c builder/artifacts.h \
 builder/recipe.h builder/util.h builder/bmap.h builder/commands.h \
 builder/compose.h builder/disk.h builder/fat.h builder/fetch.h \
 builder/options.h builder/output.h builder/rebuild.h builder/rootfs.h \
 builder/sbom.h builder/target.h
builder/artifacts.h:
builder/recipe.h:
builder/util.h:
builder/bmap.h:
builder/commands.h:
builder/compose.h:
builder/disk.h:
builder/fat.h:
builder/fetch.h:
builder/options.h:
builder/output.h:
builder/rebuild.h:
builder/rootfs.h:
builder/sbom.h:
builder/target.h:
