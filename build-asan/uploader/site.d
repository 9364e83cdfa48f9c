build-asan/uploader/site.o: uploader/site.c uploader/site.h \
 uploader/../builder/util.h
uploader/site.h:
uploader/../builder/util.h:
