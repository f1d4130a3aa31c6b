/* Read-only targets for the IO tests, made with the Linux immutable attribute. No one, root
 * included, may create, rename or delete entries in an immutable directory, nor write, rename,
 * delete or replace an immutable file; permissions refuse root nothing, so as root (as in CI)
 * this is the only way to make a target read-only. Setting it needs CAP_LINUX_IMMUTABLE and a
 * file system that has it (ext4, xfs, btrfs; not every tmpfs or overlayfs).
 * Include after test_util.h, in a file that defines _POSIX_C_SOURCE >= 200809L or _GNU_SOURCE. */
#ifndef DARRAY_TEST_IMMUTABLE_H
#define DARRAY_TEST_IMMUTABLE_H

#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h>
#include <sys/ioctl.h>
#endif

/* Collective over MPI_COMM_WORLD: once every rank has arrived, rank 0 alone sets (on) or clears
 * the immutable attribute of the file or directory path; no rank returns before it is done, so
 * every rank sees it. Returns 0, or rank 0's errno on every rank: EPERM without
 * CAP_LINUX_IMMUTABLE, ENOTTY or EOPNOTSUPP on a file system without the attribute. */
static inline int tu_set_immutable(const char *path, bool on) {
  int err = 0;
  MPI_Barrier(MPI_COMM_WORLD);
  if (tu_st()->rank == 0) {
#if defined(FS_IOC_GETFLAGS) && defined(FS_IOC_SETFLAGS) && defined(FS_IMMUTABLE_FL)
    struct stat st;
    int fd = -1, flags = 0; /* the kernel reads and writes an int, whatever the macro says */
    if (stat(path, &st) != 0 ||
        (fd = open(path, O_RDONLY | O_NONBLOCK | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0))) < 0 ||
        ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
      err = errno;
    } else {
      int want = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
      if (want != flags && ioctl(fd, FS_IOC_SETFLAGS, &want) != 0)
        err = errno;
    }
    if (fd >= 0)
      close(fd);
#else
    (void)path, (void)on;
    err = EOPNOTSUPP;
#endif
  }
  MPI_Bcast(&err, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return err;
}

/* Rank 0 prints a line saying why a check is skipped. */
static inline void tu_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tu_note(const char *fmt, ...) {
  if (tu_st()->rank != 0)
    return;
  printf("%s: note: ", tu_st()->name);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

/* How tu_read_only_begin made a target read-only. */
typedef struct {
  enum { TU_RO_SKIP, TU_RO_IMMUTABLE, TU_RO_MODE } how;
  mode_t mode; /* the mode before, for TU_RO_MODE */
} tu_read_only;

/* Collective: makes path read-only for the check `what`, with the immutable attribute where it
 * can be set; else, with mode_fallback and not as root, by taking away its write permissions
 * (which refuses new entries in a directory, but not a rename over a file); else the check is
 * to be skipped (TU_RO_SKIP) and a note says why. */
static inline tu_read_only tu_read_only_begin(const char *path, bool mode_fallback,
                                              const char *what) {
  tu_read_only ro = {TU_RO_IMMUTABLE, 0};
  int err = tu_set_immutable(path, true);
  if (!err)
    return ro;
  if (mode_fallback && geteuid() != 0) {
    struct stat st = {0};
    int e = 0;
    if (tu_st()->rank == 0)
      e = stat(path, &st) || chmod(path, st.st_mode & 07777 & ~0222u) ? errno : 0;
    MPI_Bcast(&e, 1, MPI_INT, 0, MPI_COMM_WORLD);
    CHECKF(e == 0, "%s: cannot make '%s' read-only: %s", what, path, strerror(e));
    ro.how = TU_RO_MODE, ro.mode = st.st_mode & 07777;
    return ro;
  }
  tu_note("%s skipped: cannot make '%s' immutable (%s)%s", what, path, strerror(err),
          geteuid() == 0  ? ", and root ignores permissions"
          : mode_fallback ? ""
                          : ", and permissions do not stop a rename over it");
  ro.how = TU_RO_SKIP;
  return ro;
}

/* Collective: undoes tu_read_only_begin. Call it whatever the checks in between found, or the
 * test directory cannot be removed. */
static inline void tu_read_only_end(const char *path, tu_read_only ro) {
  if (ro.how == TU_RO_IMMUTABLE) {
    int e = tu_set_immutable(path, false);
    CHECKF(e == 0, "cannot clear the immutable attribute of '%s': %s", path, strerror(e));
  } else if (ro.how == TU_RO_MODE) {
    int e = 0;
    if (tu_st()->rank == 0)
      e = chmod(path, ro.mode) ? errno : 0;
    MPI_Bcast(&e, 1, MPI_INT, 0, MPI_COMM_WORLD);
    CHECKF(e == 0, "cannot restore the mode of '%s': %s", path, strerror(e));
  }
}

/* Collective: the context's last error message is the same on every rank and names `needle`
 * (the path the caller wrote to). */
static inline void tu_error_names(da_ctx ctx, const char *needle, const char *what) {
  char mine[1024], first[1024];
  snprintf(mine, sizeof mine, "%s", da_ctx_errmsg(ctx));
  memcpy(first, mine, sizeof first);
  MPI_Bcast(first, (int)sizeof first, MPI_CHAR, 0, MPI_COMM_WORLD);
  CHECKF(!strcmp(mine, first), "%s: rank %d's message '%s' is not rank 0's '%s'", what,
         tu_st()->rank, mine, first);
  CHECKF(strstr(mine, needle) != NULL, "%s: the message does not name '%s': %s", what, needle,
         mine);
}

#endif
