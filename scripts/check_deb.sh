#!/usr/bin/env bash
# Checks the Debian package the way a user meets it: builds the .deb (cpack) from BUILD_DIR,
# installs it with apt into a clean Debian 12 made by debootstrap (so only the package's declared
# dependencies are there), then runs `slm --version` and a greedy `slm run` on the shared tiny
# model inside it. Needs root, debootstrap and the Debian mirror; not part of the test run.
#
#   scripts/check_deb.sh BUILD_DIR [ROOT_DIR]    (ROOT_DIR default /tmp/slm-deb-root, kept for reuse)
set -euo pipefail
build=$(cd "${1:?usage: scripts/check_deb.sh BUILD_DIR [ROOT_DIR]}" && pwd)
root=${2:-/tmp/slm-deb-root}
model="$(cd "$(dirname "$0")/.." && pwd)/../shared/models/tinyqwen2-bpe-11m"
[ -d "$model" ] || { echo "missing $model" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debootstrap is needed: apt-get install debootstrap" >&2; exit 1; }

if [ ! -x "$root/usr/bin/apt-get" ]; then
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
fi
# Package what `ninja slm` built, without building the tests first (cpack's default).
cmake -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON "$build" >/dev/null
ninja -C "$build" slm >/dev/null
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls -t "$build"/slm_*.deb | head -1)
echo "package: $(basename "$deb")"
dpkg-deb --field "$deb" Depends | sed 's/^/Depends: /'

cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/slm.deb"
rm -rf "$root/tmp/model" && cp -rL "$model" "$root/tmp/model"
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true' EXIT
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/slm.deb >/dev/null
echo "installed: $(chroot "$root" dpkg-query -W -f='${Package} ${Version}' slm)"
chroot "$root" slm --version
chroot "$root" slm run /tmp/model -p "Once upon a time" -n 16 --greedy
