//! Comparing a well-formed advert with the local instance (RFC 3768 §7.1, RFC 9568 §6.4).

use std::net::IpAddr;

use subtle::ConstantTimeEq;

use super::{Auth, Received, Reject, TTL};
use crate::vrrp::Version;
use crate::vrrp::timing::Centis;

/// What the local instance expects of adverts for its VRID, plus the receive policy.
///
/// A socket that serves several instances looks the instance up by
/// `received.advert.vrid` and reports [`Reject::UnknownVrid`] itself when there is none;
/// `vrid` here guards against handing an advert to the wrong instance.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The version the instance speaks.
    pub version: Version,
    /// The instance's VRID.
    pub vrid: u8,
    /// The instance's VRRPv2 authentication (ignored for v3).
    pub auth: Auth,
    /// The instance's own advert interval: a VRRPv2 advert must carry the same (a v3
    /// Backup adopts the Master's instead, so v3 does not compare it).
    pub interval: Centis,
    /// The instance's virtual addresses.
    pub vips: &'a [IpAddr],
    /// Require TTL / hop limit 255. True for multicast; unicast peers may be routed, so
    /// keepalived relaxes it there and so can we.
    pub ttl_must_be_255: bool,
}

/// The outcome of comparing address lists. A mismatch is a misconfiguration worth a
/// counter and a log line, but RFC 9568 §6.4 says the advert is still processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressCheck {
    /// Same addresses (order is ignored).
    Match,
    /// The lists differ.
    Mismatch {
        /// Our virtual addresses.
        ours: Vec<IpAddr>,
        /// The advert's.
        theirs: Vec<IpAddr>,
    },
}

/// Checks a parsed advert against the local instance, in the RFC's order: TTL, version,
/// VRID, authentication, interval (v2), then the address list.
pub fn check_against(received: &Received, expected: &Expected<'_>) -> Result<AddressCheck, Reject> {
    let advert = &received.advert;
    if expected.ttl_must_be_255 && received.ttl != TTL {
        return Err(Reject::TtlNot255(received.ttl));
    }
    if advert.version != expected.version {
        return Err(Reject::VersionMismatch {
            ours: expected.version,
            theirs: advert.version,
        });
    }
    if advert.vrid != expected.vrid {
        return Err(Reject::UnknownVrid(advert.vrid));
    }
    if advert.version == Version::V2 {
        if !auth_matches(&expected.auth, &advert.auth) {
            return Err(Reject::AuthMismatch);
        }
        if advert.interval != expected.interval {
            return Err(Reject::IntervalMismatch {
                ours: expected.interval,
                theirs: advert.interval,
            });
        }
    }
    Ok(if same_addresses(expected.vips, &advert.addresses) {
        AddressCheck::Match
    } else {
        AddressCheck::Mismatch {
            ours: expected.vips.to_vec(),
            theirs: advert.addresses.to_vec(),
        }
    })
}

/// Whether two address lists hold the same addresses, in any order. A Master lists its
/// VIPs in the order of its configuration, which is nearly always ours: that case is one
/// comparison and no copy; any other order is compared sorted.
fn same_addresses(ours: &[IpAddr], theirs: &[IpAddr]) -> bool {
    if ours == theirs {
        return true;
    }
    if ours.len() != theirs.len() {
        return false;
    }
    let (mut ours, mut theirs) = (ours.to_vec(), theirs.to_vec());
    ours.sort_unstable();
    theirs.sort_unstable();
    ours == theirs
}

/// The type is public; the password is compared in constant time so that timing does not
/// reveal how many leading bytes were right.
fn auth_matches(ours: &Auth, theirs: &Auth) -> bool {
    match (ours, theirs) {
        (Auth::None, Auth::None) => true,
        (Auth::Simple(a), Auth::Simple(b)) => a.ct_eq(b).into(),
        _ => false,
    }
}
