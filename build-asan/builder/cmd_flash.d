build-asan/builder/cmd_flash.o: builder/cmd_flash.c builder/bmap.h \
 builder/commands.h builder/util.h
builder/bmap.h:
builder/commands.h:
builder/util.h:
