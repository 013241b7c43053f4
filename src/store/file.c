#include "store/store.h"

/* Placeholder: the file backend is being written. */
int rv_store_file_open(struct rv_store *s)
{
	(void)s;
	return rv_error(RV_ENOTSUP, "file store not implemented yet");
}
