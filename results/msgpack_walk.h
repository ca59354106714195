/* msgpack_walk.h - checks the bytes of one msgpack object without
 * allocating anything (the walker of reader_msgpack.c).
 *
 * For code that then hands the bytes to msgpack-c: msgpack_unpack_next()
 * trusts container sizes and allocates for them up front, so a corrupt
 * "array of 2^32 elements" header asks malloc for ~100 GiB before a single
 * element is read.  Every element takes at least one byte, so once this
 * walk accepts the bytes, no container claims more elements than there
 * are bytes.
 */
#ifndef MXS_MSGPACK_WALK_H
#define MXS_MSGPACK_WALK_H

#include <stddef.h>

/* The length in bytes of the msgpack object at P (N bytes available);
 * 0 when the N bytes end before it does; -1 when it is not msgpack or
 * nests deeper than 32 containers. */
long mxs_msgpack_object_len(const void *p, size_t n);

#endif
