# Docker and Kubernetes style rules (ours, not upstream). Same format as the upstream .t
# files; `@cmd` lines run inside the test namespace first.
@ipset create KUBE-LB-SRC hash:ip,port,net
@ipset create docker-ext hash:net
@ip link add nfpxbr0 type bridge
*filter
:FORWARD
-m comment --comment "kubernetes forwarding rules" -j ACCEPT;=;OK
-m comment --comment "kube-proxy firewall: \"quoted\" and 'single'" -j DROP;=;OK
-o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT;=;OK
-i docker0 ! -o docker0 -j ACCEPT;=;OK
-i br-0123456789ab -o br-0123456789ab -j DROP;=;OK
-i veth+ ! -o eth+ -j RETURN;=;OK
-m conntrack --ctstate INVALID -j DROP;=;OK
-m conntrack --ctstate DNAT -m conntrack --ctorigdstport 8080 -j ACCEPT;=;OK
-m conntrack ! --ctstate NEW --ctproto tcp --ctorigsrc 10.0.0.0/8 --ctorigdst 10.1.2.3 --ctexpire 10:20 --ctdir REPLY;=;OK
-m mark --mark 0x4000/0x4000 -j ACCEPT;=;OK
-m mark ! --mark 0x1 -j ACCEPT;=;OK
-m connmark --mark 0x10/0xf0 -j ACCEPT;=;OK
-p tcp -m multiport --dports 80,443,8000:8080 -j ACCEPT;=;OK
-p udp -m multiport ! --sports 53,5353 -j ACCEPT;=;OK
-m physdev --physdev-is-bridged --physdev-in veth+ -j ACCEPT;=;OK
-m physdev ! --physdev-is-in --physdev-out eth0 -j ACCEPT;=;OK
-p tcp -m tcp --dport 22 -m recent --set --name SSH --mask 255.255.255.0 --rsource;=;OK
-p tcp -m tcp --dport 22 -m recent --update --seconds 60 --hitcount 4 --rttl --name SSH --rdest -j DROP;=;OK
-m recent ! --rcheck --seconds 5 --reap --name x;=;OK
-m set --match-set docker-ext src -j ACCEPT;=;OK
-m set ! --match-set KUBE-LB-SRC src,dst,src -j DROP;=;OK
-m set --match-set docker-ext dst --return-nomatch ! --update-counters --packets-gt 3 ! --bytes-eq 100;=;OK
-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu;=;OK
-p tcp -m tcp --syn -m limit --limit 10/sec --limit-burst 20 -j ACCEPT;=;OK
-p icmp -m icmp --icmp-type 8 -m limit --limit 1/min -j ACCEPT;=;OK
-m addrtype --dst-type LOCAL -j REJECT --reject-with icmp-port-unreachable;=;OK
-p tcp -j REJECT --reject-with tcp-reset;=;OK
-m pkttype --pkt-type broadcast -j DROP;=;OK
-m iprange --src-range 10.0.0.1-10.0.0.9 -m length --length 100:200 -j LOG --log-prefix "dropped: " --log-level 6;=;OK
-m mac --mac-source 02:42:ac:11:00:02 -j ACCEPT;=;OK
-m statistic --mode nth --every 3 --packet 1 -j ACCEPT;=;OK
-m state --state RELATED,ESTABLISHED -j ACCEPT;=;OK
:OUTPUT
-m owner --uid-owner 0 -j ACCEPT;=;OK
-m owner --uid-owner 1000-2000 ! --gid-owner 5 --socket-exists -j ACCEPT;=;OK
*nat
=DOCKER
:PREROUTING,OUTPUT
-m addrtype --dst-type LOCAL -j DOCKER;=;OK
:DOCKER
-i docker0 -j RETURN;=;OK
! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80;=;OK
:PREROUTING
-m addrtype --dst-type LOCAL -m comment --comment "kubernetes service portals" -j RETURN;=;OK
-d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j DNAT --to-destination 192.168.0.10:6443;=;OK
-p tcp -m statistic --mode random --probability 0.33333333349 -j DNAT --to-destination 10.244.1.5:8080;=;OK
-p tcp -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.244.1.6:8080;=;OK
! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80;=;OK
-p udp -m udp --dport 53 -j DNAT --to-destination 10.0.0.1-10.0.0.3:5300-5310 --random --persistent;=;OK
-p tcp -j REDIRECT --to-ports 3128;=;OK
:POSTROUTING
-s 172.17.0.0/16 ! -o docker0 -j MASQUERADE;=;OK
-s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE;=;OK
-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully;=;OK
-p tcp -j MASQUERADE --to-ports 1024-65535 --random-fully;=;OK
-m mark ! --mark 0x4000/0x4000 -j RETURN;=;OK
-o eth0 -j SNAT --to-source 192.0.2.1-192.0.2.10 --random-fully;=;OK
-s 10.0.0.0/255.0.255.0 -p udp -j SNAT --to-source 192.0.2.1:1000-2000;=;OK
*mangle
:PREROUTING
-j MARK --or-mark 0x4000;=;OK
-j MARK --xor-mark 0x4000;=;OK
-j MARK --set-mark 0x1/0xff;=;OK
-j MARK --and-mark 0xffffbfff;=;OK
-j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff;=;OK
-j CONNMARK --save-mark;=;OK
-j CONNMARK --set-xmark 0x1/0x1;=;OK
-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400;=;OK
:POSTROUTING
-j CLASSIFY --set-class 1:10;=;OK
*raw
:PREROUTING
-j CT --notrack;=;OK
-j NOTRACK;=;OK
-p udp -m udp --dport 69 -j CT --helper tftp;=;OK
-j CT --zone 5;=;OK
