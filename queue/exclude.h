/* exclude.h - what a scan must never resolve or probe (--exclude FILE).
 *
 * An exclude list holds three kinds of entries, one per line of a file
 * (configs/exclude.conf documents the format):
 *
 *   example.com       a name: exactly this domain (or MX host)
 *   .gov.example      a suffix: every name under gov.example, not
 *   *.gov.example       gov.example itself (both spellings mean the same)
 *   192.0.2.0/24      a network, IPv4 or IPv6 in CIDR notation; a bare
 *   2001:db8::1         address is a /32 or /128
 *
 * Names are normalised as the domain list is (queue/input.h: lower case,
 * IDNA A-labels, no trailing dot), so an entry matches however the list
 * spells the domain.  A network with host bits set (192.0.2.1/24) is an
 * error, not a guess.  An IPv4-mapped IPv6 address (::ffff:192.0.2.1)
 * matches the IPv4 networks too: connecting to it reaches that IPv4
 * address.
 *
 * Matching costs one hash lookup per label of a name, and one per
 * distinct prefix length of the list for an address, however long the
 * list.  The list is immutable once read, so probe threads may share it.
 * No I/O besides reading the file.
 */
#ifndef MXS_EXCLUDE_H
#define MXS_EXCLUDE_H

#include <stddef.h>
#include <stdio.h>

typedef struct mxs_exclude_s mxs_exclude_t;

/* The entry a name or address matched: its text as normalised (the
 * network masked, a suffix written ".gov.example") and its line. */
typedef struct {
  const char *entry;
  unsigned long line;
} mxs_exclude_hit_t;

/* An empty list (matches nothing); NULL on ENOMEM. */
mxs_exclude_t *mxs_exclude_new(void);
void mxs_exclude_free(mxs_exclude_t *x);

/* Adds one line of an exclude file (LINE 1-based, for mxs_exclude_hit_t):
 * an entry, optionally followed by blanks and a '#' comment; a blank or
 * comment line adds nothing.  0, or -1 with *why set to a static reason
 * (and the list unchanged). */
int mxs_exclude_add_line(mxs_exclude_t *x, const char *text, unsigned long line, const char **why);

/* Called for each bad line: NAME is the file's name, LINE 1-based, TEXT
 * the line as read (cut to 200 bytes, control characters as '?'). */
typedef void (*mxs_exclude_error_cb)(void *arg, const char *name, unsigned long line, const char *text,
                                     const char *why);

/* Reads every line of FP (NAME for messages) into X, reporting each bad
 * line through CB.  Returns the number of bad lines (0: all were good),
 * or a negative errno on a read error.  Lines longer than 1024 bytes are
 * bad lines. */
long mxs_exclude_read(mxs_exclude_t *x, FILE *fp, const char *name, mxs_exclude_error_cb cb, void *arg);

/* Reads the file PATH into a new list.  0 and *out, or -1 after printing
 * to ERR one message per bad line ("mxscan: PATH:LINE: ...") or one for a
 * file that cannot be read. */
int mxs_exclude_load(const char *path, mxs_exclude_t **out, FILE *err);

/* Entries of each kind, for the start-of-run message. */
void mxs_exclude_counts(const mxs_exclude_t *x, size_t *names, size_t *suffixes, size_t *networks);

/* 1 and *hit when NAME (a normalised domain or host name, as the domain
 * list and the resolver give them) is excluded, else 0. */
int mxs_exclude_name(const mxs_exclude_t *x, const char *name, mxs_exclude_hit_t *hit);

/* 1 and *hit when the textual address IP lies in an excluded network,
 * else 0 (also for text that is no address). */
int mxs_exclude_addr(const mxs_exclude_t *x, const char *ip, mxs_exclude_hit_t *hit);

/* Why a record stops at the list, in the one wording every record uses:
 * "WHAT is on the exclude list (FILE:LINE: ENTRY)", or without WHAT (NULL,
 * the domain itself) "on the exclude list (...)".  Written into OUT[LEN],
 * cut to fit; returns OUT. */
char *mxs_exclude_why(char *out, size_t len, const char *what, const char *file, const mxs_exclude_hit_t *hit);

#endif
