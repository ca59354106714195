/* file_source.h - a domain list file (or stdin) as a scan source. */
#ifndef MXS_FILE_SOURCE_H
#define MXS_FILE_SOURCE_H

#include <stdio.h>

#include "queue/input.h"
#include "queue/source.h"

/* Opens PATH ("-": stdin).  Bad lines go to ERR_CB as with mxs_input_new;
 * with REPEAT_CB a domain an earlier line gave is skipped and reported
 * there (mxs_input_skip_repeats), with NULL it is given again.  0 and *out
 * (the caller closes it through its ops), or -errno with a message naming
 * the file in err. */
int mxs_file_source_open(const char *path, mxs_input_error_cb err_cb, mxs_input_repeat_cb repeat_cb, void *arg,
                         mxs_source_t **out, char *err, size_t errlen);

#endif
