#!/usr/bin/env bash
# Installs what Bascule's build, demo and tests need on a fresh Debian machine.
# Idempotent: does nothing that is already done.
set -euo pipefail

need=()
command -v tar >/dev/null || need+=(tar)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v cc >/dev/null || need+=(gcc libc6-dev)
[ -x /usr/bin/time ] || need+=(time)
# The peer of `cargo xtask bench sampling` (xargs -P N curl over the same pages).
command -v curl >/dev/null || need+=(curl)
# Throwaway database servers for the MariaDB/PostgreSQL tests (fixtures/testdb): only the
# binaries are used; the tests start private servers in temporary directories.
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
# A throwaway nginx in front of the demo app tests the flag-file maintenance snippet
# (patch-template/maintenance/nginx-maintenance.conf); the tests start their own instance.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
# The stock minisign tool: the signature tests check that it reads the bundles' signatures.
command -v minisign >/dev/null || need+=(minisign)
# Rehearsal guests (`cargo xtask vm-image`, `cargo xtask rehearse`): the kernel and busybox the
# guest is built from, the tools that build its disks without mounting, libvirt and sshd for the
# libvirt and ssh drivers, iproute2 for the network namespaces the ssh tests use.
command -v busybox >/dev/null || [ -x /bin/busybox ] || need+=(busybox-static)
ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1 || need+=(linux-image-cloud-amd64)
command -v cpio >/dev/null || need+=(cpio)
command -v mcopy >/dev/null || need+=(mtools)
command -v mkfs.vfat >/dev/null || [ -x /usr/sbin/mkfs.vfat ] || need+=(dosfstools)
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /bin/ip ] || need+=(iproute2)
# Headless Chromium opens the run report in the tests (tests/tests/report.rs): one bar per step,
# nothing fetched from the network, a screenshot left under target/.
command -v chromium >/dev/null || need+=(chromium)
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
if [ ${#need[@]} -gt 0 ]; then
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# qemu-system-x86 and libvirt's qemu driver from bookworm-backports: the machine's qemu-utils is
# that suite's 10.0 build, and bookworm's qemu-system-common 7.2 conflicts with it. The suite is
# added in a private APT configuration under target/, so the system's sources stay untouched.
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v virsh >/dev/null; then
    apt_dir="$PWD/target/apt-backports"
    mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial"
    cp /etc/apt/sources.list.d/*.sources "$apt_dir/sources.list.d/" 2>/dev/null || true
    [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$apt_dir/sources.list" || : >"$apt_dir/sources.list"
    cat >"$apt_dir/sources.list.d/bookworm-backports.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    cat >"$apt_dir/apt.conf" <<CONF
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "$apt_dir/sources.list.d";
Dir::State::Lists "$apt_dir/lists";
CONF
    $sudo env APT_CONFIG="$apt_dir/apt.conf" apt-get update -qq
    $sudo env APT_CONFIG="$apt_dir/apt.conf" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -t bookworm-backports qemu-system-x86 qemu-utils \
        libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
fi
# dbmate: the peer of `cargo xtask bench migrate`, and the tool whose own runs
# tests/tests/adopt.rs adopts, so the set-up fails without it.
if ! command -v dbmate >/dev/null; then
    if ! command -v npm >/dev/null; then
        echo "error: dbmate is missing and npm is not installed to install it (npm install -g dbmate); tests/tests/adopt.rs needs it" >&2
        exit 1
    fi
    if ! npm install -g dbmate >/dev/null 2>&1 || ! command -v dbmate >/dev/null; then
        echo "error: npm install -g dbmate failed; tests/tests/adopt.rs and bench migrate need dbmate" >&2
        exit 1
    fi
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# Ansible for the fleet collection (runtime/ansible) and its end-to-end test (tests/tests/fleet.rs):
# ansible-core at the version runtime/ansible/requirements.txt pins, in a venv under target/.
ansible_venv="$PWD/target/ansible-venv"
ansible_pin="$(grep -v '^#' runtime/ansible/requirements.txt | head -n1)"
ansible_has="$("$ansible_venv/bin/pip" freeze 2>/dev/null || true)"
if [ ! -x "$ansible_venv/bin/ansible-playbook" ] || ! grep -qxF "$ansible_pin" <<<"$ansible_has"; then
    python3 -m venv "$ansible_venv"
    "$ansible_venv/bin/pip" install -q --disable-pip-version-check -r runtime/ansible/requirements.txt
fi
