#!/bin/sh
# Fails when a banned C function appears in the sources (curl's checksrc
# idea): each has a bounded or checked replacement in src/util.h.
top=${top_srcdir:-$(dirname "$0")/..}
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strncat|strtok|atoi|atol|atoll|gets|tmpnam|mktemp)[[:space:]]*\('
hits=$(grep -nE "$banned" "$top"/src/*.c "$top"/src/*.h \
    "$top"/relay/*.c "$top"/adapters/*.c 2>/dev/null)
if [ -n "$hits" ]; then
	echo "banned functions used:"
	echo "$hits"
	exit 1
fi
echo "no banned functions"
