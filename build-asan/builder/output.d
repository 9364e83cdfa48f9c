build-asan/builder/output.o: builder/output.c builder/output.h \
 builder/grammar.h builder/util.h
builder/output.h:
builder/grammar.h:
builder/util.h:
