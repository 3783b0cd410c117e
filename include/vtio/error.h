/**
 * @file error.h
 * @brief The one error convention of the library.
 *
 * Every function that can fail returns `int`: 0 on success or one of the
 * negative codes below. The numbering mirrors Linux errno values so logs read
 * naturally, but the enum needs no errno.h (firmware has none).
 */
#ifndef VTIO_ERROR_H
#define VTIO_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/** Error codes (negative, errno-like numbering). */
enum vtio_error {
	VTIO_OK = 0,	       /**< Success. */
	VTIO_EPERM = -1,       /**< Operation not permitted in the current state. */
	VTIO_ENOENT = -2,      /**< No such object (nothing to return, unknown address). */
	VTIO_EIO = -5,	       /**< The queue or device is broken. */
	VTIO_E2BIG = -7,       /**< Too many segments or descriptors. */
	VTIO_EAGAIN = -11,     /**< Nothing available now; try again later. */
	VTIO_ENOMEM = -12,     /**< Out of caller-provided memory, slots or IOVA space. */
	VTIO_EACCES = -13,     /**< Access denied (permissions of a mapping). */
	VTIO_EFAULT = -14,     /**< Address outside the memory the peer may use. */
	VTIO_EBUSY = -16,      /**< Object still in use. */
	VTIO_EEXIST = -17,     /**< Object already exists or registered. */
	VTIO_ENODEV = -19,     /**< No such device, layer or pool. */
	VTIO_EINVAL = -22,     /**< Invalid argument (a caller bug or bad configuration). */
	VTIO_ENOSPC = -28,     /**< Ring full: no free descriptors. */
	VTIO_ERANGE = -34,     /**< Value out of range (index, id, size). */
	VTIO_ENOSYS = -38,     /**< No layer of the stack provides the operation. */
	VTIO_ELOOP = -40,      /**< Descriptor chain loops or exceeds its bound. */
	VTIO_EPROTO = -71,     /**< The peer broke the virtio protocol. */
	VTIO_EBADMSG = -74,    /**< Malformed descriptor or message from the peer. */
	VTIO_EOVERFLOW = -75,  /**< Length overflow (chain longer than 4 GiB, etc.). */
	VTIO_EMSGSIZE = -90,   /**< Mapping or message larger than allowed. */
	VTIO_ENOTSUP = -95,    /**< Feature not negotiated or not compiled in. */
	VTIO_ENOBUFS = -105,   /**< Caller's segment array too small. */
	VTIO_ENOTCONN = -107,  /**< The peer is not there or went away (socket EOF). */
	VTIO_ETIMEDOUT = -110, /**< Timed out waiting for the peer. */
	VTIO_EALREADY = -114,  /**< Already done (double unmap, double free). */
	VTIO_ECANCELED = -125  /**< Operation cancelled (queue reset). */
};

/**
 * Human-readable name and meaning of an error code.
 *
 * @param err a value returned by any vtio function (0 or negative).
 * @return a static string, never NULL (unknown codes give "unknown error").
 *
 * Context: any side, any context; pure function.
 */
const char *vtio_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* VTIO_ERROR_H */
