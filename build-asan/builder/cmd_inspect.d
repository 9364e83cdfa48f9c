build-asan/builder/cmd_inspect.o: builder/cmd_inspect.c \
 builder/commands.h builder/util.h
builder/commands.h:
builder/util.h:
