build-asan/builder/target.o: builder/target.c builder/target.h \
 builder/compose.h builder/recipe.h builder/util.h builder/disk.h
builder/target.h:
builder/compose.h:
builder/recipe.h:
builder/util.h:
builder/disk.h:
