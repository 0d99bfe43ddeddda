#!/bin/bash
# PID 1 of a test host's new namespaces (pid, mount, uts, ipc, net, cgroup).
# Builds the host's mount tree from its root directory, pivots into it and
# becomes its init: systemd, or a reaper for a host whose docker runs from
# its SysV init script.
set -euo pipefail
R=$1 INIT=$2
mount --make-rprivate /
mount --bind "$R" "$R"
cd "$R"
mount -t proc proc proc
# /proc/sys read-only (systemd would otherwise raise machine-wide limits),
# with read-write holes for the per-namespace sysctls CRIU restore writes.
holes=(net fs/mqueue kernel/hostname kernel/domainname kernel/ns_last_pid)
for f in proc/sys/kernel/shm* proc/sys/kernel/msg* proc/sys/kernel/sem* proc/sys/kernel/*_next_id; do
    [ -e "$f" ] && holes+=("${f#proc/sys/}")
done
for h in "${holes[@]}"; do mount --bind "proc/sys/$h" "proc/sys/$h"; done
mount --rbind proc/sys proc/sys
mount -o remount,bind,ro proc/sys
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs sys
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 sys/fs/cgroup
mount -t tmpfs -o mode=755,nosuid tmpfs dev
for n in null zero full random urandom tty; do
    touch "dev/$n"; mount --bind "/dev/$n" "dev/$n"
done
if [ -e /dev/net/tun ]; then mkdir -p dev/net; touch dev/net/tun; mount --bind /dev/net/tun dev/net/tun; fi
mkdir -p dev/pts dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts dev/pts
ln -sf pts/ptmx dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs dev/shm
ln -sf /proc/self/fd dev/fd
ln -sf /proc/self/fd/0 dev/stdin; ln -sf /proc/self/fd/1 dev/stdout; ln -sf /proc/self/fd/2 dev/stderr
touch dev/console
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs run
mkdir -p oldroot
pivot_root . oldroot
cd /
umount -l /oldroot
rmdir /oldroot
hostname "$(cat /etc/hostname)"
if [ "$INIT" = systemd ]; then
    exec env -i container=other /lib/systemd/systemd --system systemd.unit=multi-user.target
fi
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs tmp
busybox ip link set lo up
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c 'trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done'
