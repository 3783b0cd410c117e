#include "vtio/error.h"

const char *vtio_strerror(int err)
{
	switch (err) {
	case VTIO_OK:
		return "success";
	case VTIO_EPERM:
		return "EPERM: operation not permitted in this state";
	case VTIO_ENOENT:
		return "ENOENT: no such object";
	case VTIO_EIO:
		return "EIO: queue or device is broken";
	case VTIO_E2BIG:
		return "E2BIG: too many segments or descriptors";
	case VTIO_EAGAIN:
		return "EAGAIN: nothing available, try again";
	case VTIO_ENOMEM:
		return "ENOMEM: out of memory, slots or address space";
	case VTIO_EACCES:
		return "EACCES: access not permitted by the mapping";
	case VTIO_EFAULT:
		return "EFAULT: address outside the peer's memory";
	case VTIO_EBUSY:
		return "EBUSY: object still in use";
	case VTIO_EEXIST:
		return "EEXIST: already exists";
	case VTIO_ENODEV:
		return "ENODEV: no such device, layer or pool";
	case VTIO_EINVAL:
		return "EINVAL: invalid argument";
	case VTIO_ENOSPC:
		return "ENOSPC: ring full";
	case VTIO_ERANGE:
		return "ERANGE: value out of range";
	case VTIO_ENOSYS:
		return "ENOSYS: no layer provides this operation";
	case VTIO_ELOOP:
		return "ELOOP: descriptor chain loops or is too long";
	case VTIO_EPROTO:
		return "EPROTO: peer broke the virtio protocol";
	case VTIO_EBADMSG:
		return "EBADMSG: malformed descriptor or message";
	case VTIO_EOVERFLOW:
		return "EOVERFLOW: length overflow";
	case VTIO_EMSGSIZE:
		return "EMSGSIZE: larger than allowed";
	case VTIO_ENOTSUP:
		return "ENOTSUP: feature not negotiated or not built";
	case VTIO_ENOBUFS:
		return "ENOBUFS: segment array too small";
	case VTIO_ENOTCONN:
		return "ENOTCONN: peer not there or gone";
	case VTIO_ETIMEDOUT:
		return "ETIMEDOUT: timed out";
	case VTIO_EALREADY:
		return "EALREADY: already done";
	case VTIO_ECANCELED:
		return "ECANCELED: cancelled by reset";
	default:
		return "unknown error";
	}
}
