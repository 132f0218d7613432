/* A preloaded write-failure switch: while the file named by TK_EROFS_SWITCH exists, every write to a
 * file under TK_EROFS_DIR fails with EROFS, as if that filesystem had gone read-only; remove the file
 * and writes work again.
 *
 * Why not `mount -o remount,ro`: the kernel refuses to remount a filesystem read-only while any file
 * on it is open for writing (EBUSY), and the journal keeps its database open for its whole life;
 * ext4's error-triggered read-only mode cannot be undone without unmounting. This shim gives the
 * server the same errno at the same calls (open for writing, write, truncate, sync, unlink), and
 * can be switched back, so recovery "when write access returns" can be tested.
 *
 * Built by tests/reliability/_support.py:build_erofs_shim; used through LD_PRELOAD. Only the
 * symbols libsqlite3 and CPython use to write files are wrapped.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 65536

static const char *fault_dir;
static size_t fault_dir_len;
static const char *fault_switch;
static unsigned char tracked[MAX_FD]; /* fds opened under fault_dir */

__attribute__((constructor)) static void shim_init(void) {
    fault_dir = getenv("TK_EROFS_DIR");
    fault_switch = getenv("TK_EROFS_SWITCH");
    fault_dir_len = fault_dir ? strlen(fault_dir) : 0;
}

static int switched_on(void) {
    struct stat st;
    return fault_switch != NULL && stat(fault_switch, &st) == 0;
}

static int under_dir(const char *path) {
    return fault_dir_len > 0 && path != NULL && strncmp(path, fault_dir, fault_dir_len) == 0;
}

static int fd_faulty(int fd) {
    return fd >= 0 && fd < MAX_FD && tracked[fd] && switched_on();
}

static int wants_write(int flags) {
    return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) != 0;
}

static void track(int fd, const char *path) {
    if (fd >= 0 && fd < MAX_FD) {
        tracked[fd] = (unsigned char)under_dir(path);
    }
}

#define REAL(type, name, args) \
    static type(*real_##name) args; \
    if (!real_##name) real_##name = (type(*) args)dlsym(RTLD_NEXT, #name)

#define OPEN_WRAPPER(name)                                                \
    int name(const char *path, int flags, ...) {                          \
        REAL(int, name, (const char *, int, ...));                        \
        mode_t mode = 0;                                                  \
        if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {       \
            va_list ap;                                                   \
            va_start(ap, flags);                                          \
            mode = (mode_t)va_arg(ap, int);                               \
            va_end(ap);                                                   \
        }                                                                 \
        if (under_dir(path) && wants_write(flags) && switched_on()) {     \
            errno = EROFS;                                                \
            return -1;                                                    \
        }                                                                 \
        int fd = real_##name(path, flags, mode);                          \
        track(fd, path);                                                  \
        return fd;                                                        \
    }

OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

#define OPENAT_WRAPPER(name)                                              \
    int name(int dirfd, const char *path, int flags, ...) {               \
        REAL(int, name, (int, const char *, int, ...));                   \
        mode_t mode = 0;                                                  \
        if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {       \
            va_list ap;                                                   \
            va_start(ap, flags);                                          \
            mode = (mode_t)va_arg(ap, int);                               \
            va_end(ap);                                                   \
        }                                                                 \
        if (under_dir(path) && wants_write(flags) && switched_on()) {     \
            errno = EROFS;                                                \
            return -1;                                                    \
        }                                                                 \
        int fd = real_##name(dirfd, path, flags, mode);                   \
        track(fd, path);                                                  \
        return fd;                                                        \
    }

OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

int close(int fd) {
    REAL(int, close, (int));
    if (fd >= 0 && fd < MAX_FD) {
        tracked[fd] = 0;
    }
    return real_close(fd);
}

#define FD_GUARD(fd, failure)     \
    if (fd_faulty(fd)) {          \
        errno = EROFS;            \
        return failure;           \
    }

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(ssize_t, write, (int, const void *, size_t));
    FD_GUARD(fd, -1)
    return real_write(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
    REAL(ssize_t, writev, (int, const struct iovec *, int));
    FD_GUARD(fd, -1)
    return real_writev(fd, iov, count);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t at) {
    REAL(ssize_t, pwrite, (int, const void *, size_t, off_t));
    FD_GUARD(fd, -1)
    return real_pwrite(fd, buf, n, at);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t at) {
    REAL(ssize_t, pwrite64, (int, const void *, size_t, off64_t));
    FD_GUARD(fd, -1)
    return real_pwrite64(fd, buf, n, at);
}

int ftruncate(int fd, off_t size) {
    REAL(int, ftruncate, (int, off_t));
    FD_GUARD(fd, -1)
    return real_ftruncate(fd, size);
}

int ftruncate64(int fd, off64_t size) {
    REAL(int, ftruncate64, (int, off64_t));
    FD_GUARD(fd, -1)
    return real_ftruncate64(fd, size);
}

int fsync(int fd) {
    REAL(int, fsync, (int));
    FD_GUARD(fd, -1)
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(int, fdatasync, (int));
    FD_GUARD(fd, -1)
    return real_fdatasync(fd);
}

int unlink(const char *path) {
    REAL(int, unlink, (const char *));
    if (under_dir(path) && switched_on()) {
        errno = EROFS;
        return -1;
    }
    return real_unlink(path);
}
