build-asan/builder/rebuild.o: builder/rebuild.c builder/rebuild.h \
 builder/compose.h builder/recipe.h builder/util.h builder/grammar.h
builder/rebuild.h:
builder/compose.h:
builder/recipe.h:
builder/util.h:
builder/grammar.h:
