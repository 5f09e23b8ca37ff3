#!/bin/sh
# PID 1 of a rehearsal guest. Boots the host (the scripts of /etc/rehearse/boot.d, as a real
# init starts its services), then runs one rehearsal:
#   /dev/vdb  a raw disk holding a plain tar: the payload (run.sh and the bundle), read-only;
#   /dev/vdc  a raw disk the results are written to, as a plain tar of out/.
# out/exit_code is written last: a results disk without it is a run that did not finish.
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
hostname "$(cat /etc/hostname 2>/dev/null || echo iso-prod)"
echo "rehearse-init: up at $(cut -d' ' -f1 /proc/uptime)s"
for script in /etc/rehearse/boot.d/*.sh; do
    [ -f "$script" ] && { sh "$script" || echo "rehearse-init: $script failed ($?)"; }
done
echo "rehearse-init: booted at $(cut -d' ' -f1 /proc/uptime)s"
RUN=/run/rehearse
mkdir -p $RUN/in $RUN/out
if [ -b /dev/vdb ] && tar -xf /dev/vdb -C $RUN/in && [ -f $RUN/in/run.sh ]; then
    sh $RUN/in/run.sh $RUN/in $RUN/out >$RUN/out/run.log 2>&1
    echo $? >$RUN/out/exit_code
    echo "rehearse-init: run.sh exited with $(cat $RUN/out/exit_code)"
else
    echo "rehearse-init: no payload on /dev/vdb"
fi
[ -b /dev/vdc ] && tar -cf /dev/vdc -C $RUN out
sync
echo "rehearse-init: done at $(cut -d' ' -f1 /proc/uptime)s"
poweroff -f
