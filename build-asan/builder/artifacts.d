build-asan/builder/artifacts.o: builder/artifacts.c builder/artifacts.h \
 builder/recipe.h builder/util.h builder/fetch.h
builder/artifacts.h:
builder/recipe.h:
builder/util.h:
builder/fetch.h:
