#!/usr/bin/env bash
# Builds a minimal busybox-static root filesystem in DIR (for `podman import` or an OCI bundle).
# Usage: scripts/make-rootfs.sh DIR
set -euo pipefail
dir=${1:?usage: make-rootfs.sh DIR}
bb=/bin/busybox
if [ ! -x "$bb" ]; then
        echo "make-rootfs.sh: $bb missing: apt-get install busybox-static" >&2
        exit 1
fi
if ldd "$bb" >/dev/null 2>&1; then
        echo "make-rootfs.sh: $bb is dynamically linked: apt-get install busybox-static" >&2
        exit 1
fi
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,run}
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list-full); do
        [ -e "$dir/$applet" ] || [ -L "$dir/$applet" ] || ln -s /bin/busybox "$dir/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
