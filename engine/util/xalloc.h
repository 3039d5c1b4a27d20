/*
 * xalloc: the allocation family. Every heap allocation in bfmon goes through it.
 *
 * Allocation failure is not recoverable for a market-data monitor: these functions never return
 * NULL, they print one line and abort. Callers therefore never check for NULL. Thread-safe.
 */
#ifndef BF_XALLOC_H
#define BF_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* realloc for arrays: aborts on nmemb * size overflow as well. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Cache-line (or larger power-of-two) aligned allocation; free with xfree_aligned. */
void *xaligned_alloc(size_t alignment, size_t size);
void xfree_aligned(void *ptr);

#endif
