build-asan/uploader/do_api.o: uploader/do_api.c uploader/do_api.h \
 uploader/../builder/util.h uploader/http.h
uploader/do_api.h:
uploader/../builder/util.h:
uploader/http.h:
