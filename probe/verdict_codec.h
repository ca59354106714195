/* verdict_codec.h - a verdict as bytes, so that the machine that probed an
 * address can hand its result to the others of a distributed run.
 *
 * The bytes are a msgpack array, positional, headed by a format version:
 * everything mxs_verdict_record() reads (the probe result, the certificate
 * with its SAN list so each machine runs the host-name check for its own MX
 * names, the legacy retry or the --diag-profiles retries, the refined class
 * and the sender profile), nothing else.  Version 3 added the name sent
 * as SNI, 4 the sender profile and the retries; in 5 the class numbers
 * moved (excluded, before ok).  Only machines of one
 * mxscan version share a run, so the format is not meant to be stable; the
 * version makes a mix fail cleanly instead of garbling.
 */
#ifndef MXS_VERDICT_CODEC_H
#define MXS_VERDICT_CODEC_H

#include <msgpack.h>
#include <stddef.h>

#include "probe/verdict.h"

#define MXS_VERDICT_CODEC_VERSION 5

/* Appends V to SB.  0, or -1 (out of memory, V without a result). */
int mxs_verdict_pack(const mxs_verdict_t *v, msgpack_sbuffer *sb);

/* Decodes BUF into *OUT (overwritten), its owned parts allocated as
 * probe.c and cert.c allocate them, so mxs_verdict_free releases it.
 * Static strings (stage, key type, signature algorithm) are mapped back to
 * static strings.  0, or -1 (bad bytes, another version, out of memory)
 * with *OUT left zeroed. */
int mxs_verdict_unpack(mxs_verdict_t *out, const char *buf, size_t len);

#endif
