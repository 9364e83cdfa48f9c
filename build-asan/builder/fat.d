build-asan/builder/fat.o: builder/fat.c builder/fat.h builder/disk.h \
 builder/compose.h builder/recipe.h builder/util.h
builder/fat.h:
builder/disk.h:
builder/compose.h:
builder/recipe.h:
builder/util.h:
