#!/usr/bin/env bash
# Installs every Debian package the build, the demo and the tests need (bookworm).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
        meson ninja-build pkg-config gcc clang libclang-rt-14-dev
        libglib2.0-dev libjson-glib-dev libsystemd-dev libselinux1-dev libseccomp-dev
        python3 systemd
        podman conmon runc crun uidmap fuse-overlayfs slirp4netns
        busybox-static
        qemu-system-x86 qemu-utils linux-image-amd64 cpio zstd kmod xz-utils lz4
        selinux-policy-dev selinux-policy-default checkpolicy semodule-utils setools
        iproute2 procps util-linux psmisc
)
if [ "$(id -u)" != 0 ]; then
        echo "setup-debian.sh: run as root (apt-get)" >&2
        exit 1
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
