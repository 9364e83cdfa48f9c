build-asan/builder/bmap.o: builder/bmap.c builder/bmap.h builder/util.h
builder/bmap.h:
builder/util.h:
