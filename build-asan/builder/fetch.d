build-asan/builder/fetch.o: builder/fetch.c builder/fetch.h \
 builder/util.h
builder/fetch.h:
builder/util.h:
