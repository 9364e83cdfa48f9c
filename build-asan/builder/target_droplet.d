build-asan/builder/target_droplet.o: builder/target_droplet.c \
 builder/target.h builder/compose.h builder/recipe.h builder/util.h \
 builder/disk.h
builder/target.h:
builder/compose.h:
builder/recipe.h:
builder/util.h:
builder/disk.h:
