build-asan/tests/test-output: tests/unit/test-output.c builder/output.h \
 tests/unit/tests.h builder/util.h
builder/output.h:
tests/unit/tests.h:
builder/util.h:
