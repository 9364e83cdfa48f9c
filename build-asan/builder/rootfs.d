build-asan/builder/rootfs.o: builder/rootfs.c builder/rootfs.h \
 builder/artifacts.h builder/recipe.h builder/util.h builder/fetch.h
builder/rootfs.h:
builder/artifacts.h:
builder/recipe.h:
builder/util.h:
builder/fetch.h:
