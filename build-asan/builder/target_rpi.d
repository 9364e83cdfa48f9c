build-asan/builder/target_rpi.o: builder/target_rpi.c builder/target.h \
 builder/compose.h builder/recipe.h builder/util.h builder/disk.h
builder/target.h:
builder/compose.h:
builder/recipe.h:
builder/util.h:
builder/disk.h:
