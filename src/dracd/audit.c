/*
 * audit.c - values from outside made safe for a key=value log line.
 *
 * A value that a client chose (the user name of an add) must not be able
 * to end its field or forge another: every byte that is not printable
 * ASCII, and space, '=', '"', '%' and '\', is written as %XX (RFC 3986
 * percent-encoding, upper-case hex), so a parser splits the line at
 * spaces and '=' and percent-decodes each value.  No state.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"

/* audit_escape_byte - must c be percent-escaped in a value? */
static int
audit_escape_byte(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f || c == '=' || c == '"' || c == '%' ||
	    c == '\\';
}

/*
 * audit_value - in as one log value in out (len bytes, at least 8): "-"
 * for NULL or empty, an escaped "-" for a lone "-", and "..." at the end
 * if out is too small for all of it
 */
void
audit_value(const char *in, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)in;
	size_t n = 0;

	if (in == NULL || *in == '\0') {
		snprintf(out, len, "-");
		return;
	}
	if (strcmp(in, "-") == 0) {
		snprintf(out, len, "%%2D");
		return;
	}
	for (; *p != '\0'; p++) {
		if (n + 3 + 4 > len) {		/* room for %XX, "..." and NUL */
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		if (audit_escape_byte(*p)) {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 0xf];
		} else
			out[n++] = (char)*p;
	}
	out[n] = '\0';
}
