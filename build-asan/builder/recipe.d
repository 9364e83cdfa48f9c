build-asan/builder/recipe.o: builder/recipe.c builder/recipe.h \
 builder/util.h
builder/recipe.h:
builder/util.h:
