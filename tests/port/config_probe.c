/* Compiled (never run) by the port_config_* tests with different build
 * options: config.h must reject inconsistent combinations with #error and
 * accept the consistent ones, through the umbrella header as a user would. */
#include "vtio.h"

int vtio_config_probe(void);
int vtio_config_probe(void)
{
	return VTIO_CONFIG_SPLIT + VTIO_CONFIG_PACKED;
}
