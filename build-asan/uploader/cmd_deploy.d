build-asan/uploader/cmd_deploy.o: uploader/cmd_deploy.c \
 uploader/../builder/commands.h uploader/../builder/util.h \
 uploader/do_api.h uploader/http.h uploader/site.h
uploader/../builder/commands.h:
uploader/../builder/util.h:
uploader/do_api.h:
uploader/http.h:
uploader/site.h:
