build-asan/builder/cmd_fetch.o: builder/cmd_fetch.c builder/artifacts.h \
 builder/recipe.h builder/util.h builder/commands.h builder/options.h
builder/artifacts.h:
builder/recipe.h:
builder/util.h:
builder/commands.h:
builder/options.h:
