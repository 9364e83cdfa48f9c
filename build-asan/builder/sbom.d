build-asan/builder/sbom.o: builder/sbom.c builder/sbom.h builder/util.h
builder/sbom.h:
builder/util.h:
