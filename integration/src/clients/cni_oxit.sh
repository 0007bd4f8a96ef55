#!/bin/sh
# CNI plugins for the CRI test, nothing on the host. Run as `loopback` (which containerd's CRI
# plugin always runs): `lo` up in the pod's network namespace. Run as `oxit-veth`: a veth pair
# with both ends inside that namespace and 127.99.0.2/32 on the pod's interface (the CRI
# plugin wants an address on eth0; this kernel has no `dummy` link type). Loopback addresses
# only: never a bridge or a private-range address.
[ "$CNI_COMMAND" = VERSION ] && { echo '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}'; exit 0; }
cat >/dev/null
in_pod() { nsenter --net="$CNI_NETNS" sh -c "$1"; }
case "$(basename "$0"):$CNI_COMMAND" in
loopback:ADD)
  in_pod "ip link set lo up" >&2 || exit 1
  printf '{"cniVersion":"0.4.0","interfaces":[{"name":"lo","sandbox":"%s"}],"ips":[{"version":"4","interface":0,"address":"127.0.0.1/8"}]}\n' "$CNI_NETNS" ;;
oxit-veth:ADD)
  in_pod "ip link add $CNI_IFNAME type veth peer name oxit-peer && ip link set oxit-peer up && ip addr add 127.99.0.2/32 dev $CNI_IFNAME && ip link set $CNI_IFNAME up" >&2 || exit 1
  printf '{"cniVersion":"0.4.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"version":"4","interface":0,"address":"127.99.0.2/32"}]}\n' "$CNI_IFNAME" "$CNI_NETNS" ;;
oxit-veth:DEL)
  [ -e "$CNI_NETNS" ] && in_pod "ip link del $CNI_IFNAME" 2>/dev/null ;;
esac
exit 0
