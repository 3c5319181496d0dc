//! VRRPv2 (RFC 3768) and VRRPv3 (RFC 9568) advert wire format.
