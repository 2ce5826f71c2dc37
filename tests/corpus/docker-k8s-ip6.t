# IPv6 Docker/Kubernetes style rules (ours).
@ipset create docker6 hash:net family inet6
*filter
:FORWARD
-s fd00::/64 -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT;=;OK
-d 2001:db8::1/128 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT;=;OK
-s ::1.2.3.4/::ffff:ffff -j DROP;=;OK
-m set --match-set docker6 src -j ACCEPT;=;OK
-p tcp -j REJECT --reject-with tcp-reset;=;OK
-j REJECT --reject-with icmp6-adm-prohibited;=;OK
-m comment --comment "ipv6 with spaces" -m recent --set --name v6 --mask ffff:ffff:ffff:ffff:: --rsource;=;OK
-m iprange --dst-range fd00::1-fd00::ff;=;OK
*nat
:PREROUTING
-p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00::2]:80;=;OK
-p tcp -j DNAT --to-destination fd00::2-fd00::5;=;OK
:POSTROUTING
-s fd00::/64 ! -o docker0 -j MASQUERADE --random-fully;=;OK
-o eth0 -p tcp -j SNAT --to-source [2001:db8::1]:1000-2000;=;OK
