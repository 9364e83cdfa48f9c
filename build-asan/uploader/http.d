build-asan/uploader/http.o: uploader/http.c uploader/../builder/util.h \
 uploader/http.h
uploader/../builder/util.h:
uploader/http.h:
