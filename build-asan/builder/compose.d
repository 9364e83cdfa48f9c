build-asan/builder/compose.o: builder/compose.c builder/compose.h \
 builder/recipe.h builder/util.h
builder/compose.h:
builder/recipe.h:
builder/util.h:
