build-asan/builder/util.o: builder/util.c builder/util.h
builder/util.h:
