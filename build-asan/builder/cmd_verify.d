build-asan/builder/cmd_verify.o: builder/cmd_verify.c builder/commands.h \
 builder/sbom.h builder/util.h
builder/commands.h:
builder/sbom.h:
builder/util.h:
