#!/bin/busybox sh
# The initramfs's only job: load the virtio modules (the cloud kernel has them as modules),
# mount the root disk and hand over to the root's init.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m.ko" || echo "initramfs: insmod $m failed"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initramfs: cannot mount /dev/vda"; poweroff -f; }
umount /proc
umount /dev
exec switch_root /newroot /sbin/rehearse-init
