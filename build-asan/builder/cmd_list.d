build-asan/builder/cmd_list.o: builder/cmd_list.c builder/commands.h \
 builder/options.h builder/util.h builder/recipe.h
builder/commands.h:
builder/options.h:
builder/util.h:
builder/recipe.h:
