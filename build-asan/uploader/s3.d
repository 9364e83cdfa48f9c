build-asan/uploader/s3.o: uploader/s3.c uploader/../builder/util.h \
 uploader/http.h uploader/s3.h
uploader/../builder/util.h:
uploader/http.h:
uploader/s3.h:
