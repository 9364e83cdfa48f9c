build-asan/uploader/cmd_upload.o: uploader/cmd_upload.c \
 uploader/../builder/commands.h uploader/../builder/util.h \
 uploader/do_api.h uploader/http.h uploader/s3.h
uploader/../builder/commands.h:
uploader/../builder/util.h:
uploader/do_api.h:
uploader/http.h:
uploader/s3.h:
