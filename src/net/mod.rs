//! The Linux shell: raw VRRP sockets, netlink addresses and links, ARP/NA, macvlan.
