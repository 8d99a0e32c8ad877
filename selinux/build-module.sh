#!/bin/sh
# Compiles one SELinux policy module (.te/.if/.fc) with the distribution's devel Makefile.
# Usage: build-module.sh MAKEFILE SRCDIR WORKDIR NAME OUTPUT
set -eu
makefile=$1
srcdir=$2
workdir=$3
name=$4
output=$5

rm -rf "$workdir"
mkdir -p "$workdir"
for ext in te if fc; do
        cp "$srcdir/$name.$ext" "$workdir/"
done
# The devel Makefile works in the current directory and writes tmp/ there.
(cd "$workdir" && make -s -f "$makefile" "$name.pp") || {
        echo "build-module.sh: compiling $name.pp failed" >&2
        exit 1
}
cp "$workdir/$name.pp" "$output"
