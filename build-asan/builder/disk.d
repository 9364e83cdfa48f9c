build-asan/builder/disk.o: builder/disk.c builder/disk.h \
 builder/compose.h builder/recipe.h builder/util.h
builder/disk.h:
builder/compose.h:
builder/recipe.h:
builder/util.h:
