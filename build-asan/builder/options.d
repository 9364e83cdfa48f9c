build-asan/builder/options.o: builder/options.c builder/options.h \
 builder/util.h builder/grammar.h builder/commands.h
builder/options.h:
builder/util.h:
builder/grammar.h:
builder/commands.h:
