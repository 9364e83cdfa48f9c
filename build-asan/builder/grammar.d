build-asan/builder/grammar.o: builder/grammar.c builder/grammar.h
builder/grammar.h:
