/*
 * file: whole-file reads, for the small inputs bfmon loads at start (exchangeInfo bodies, keymap
 * files). Depends on nothing of the app. Any thread.
 */
#ifndef BF_FILE_H
#define BF_FILE_H

#include <stddef.h>

/* The whole file at path, NUL-terminated (*len counts the bytes before the NUL; free() it). NULL
 * when it cannot be read, with *err BF_ENOENT (no such file) or BF_EIO (anything else) and why
 * "cannot read PATH: reason". Allocation failure aborts (xalloc). */
char *file_read_all(const char *path, size_t *len, int *err, char *why, size_t why_cap);

#endif
