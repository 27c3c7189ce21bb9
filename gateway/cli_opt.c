/* cli_opt: reading "--name VALUE" / "--name=VALUE" options, for the hailong commands. */
#include "cli_opt.h"

#include <string.h>

int cli_opt_value(const char *name, int argc, char **argv, int *i, const char **val)
{
	size_t len = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, len) != 0)
		return 0;
	if (a[len] == '=') {
		*val = a + len + 1;
		return 1;
	}
	if (a[len] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}
