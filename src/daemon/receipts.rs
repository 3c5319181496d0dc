//! What the router judged of each received advert, turned into counters and rate-limited
//! log lines. The judging is the router's (by its own configuration); this only reports.

use std::net::IpAddr;
use std::time::Instant;

use tracing::{debug, warn};

use super::io::LiveIo;
use super::stats::Hot;
use crate::vrrp::V3Checksum;
use crate::vrrp::packet::ChecksumKind;
use crate::vrrp::router::{Receipt, Router};

impl LiveIo {
    /// Counts `receipt` on the instance and on its channel, and logs what an operator can
    /// act on, at most once per source and reason per limiter period.
    pub(super) fn count_receipt(
        &mut self,
        router: &Router,
        channel: usize,
        from: IpAddr,
        receipt: Receipt,
    ) {
        // Read only for the log limiter, which an accepted advert rarely needs.
        let now = Instant::now;
        let on_channel = self.sending.path(channel).map(|p| &p.stats);
        let bump = |label: &'static str| {
            self.stats.bump(label);
            if let Some(c) = on_channel {
                c.bump(label);
            }
        };
        match receipt {
            Receipt::Rejected(reject) => {
                bump(reject.label());
                if let Some(held) = self.limiter.allow(now(), from, reject.label()) {
                    warn!(instance = %self.name, src = %from, reason = reject.label(),
                        suppressed = held, "dropped advert: {reject}");
                }
            }
            // The peer's raw adverts arrive beside its sealed ones all the time: counted,
            // not worth a warning.
            Receipt::Unauthenticated => {
                bump("unauthenticated");
                debug!(instance = %self.name, src = %from, "raw advert ignored: only sealed adverts decide");
            }
            Receipt::Accepted {
                checksum,
                other_addresses,
            } => {
                if let Some(theirs) = other_addresses {
                    self.stats.bump("address_mismatch");
                    if let Some(held) = self.limiter.allow(now(), from, "address_mismatch") {
                        let ours = &router.config().vips;
                        warn!(instance = %self.name, src = %from, ?ours, ?theirs, suppressed = held,
                            "advert lists other virtual addresses than ours; processing it anyway");
                    }
                }
                self.stats.count(Hot::AdvertsReceived);
                if let Some(c) = on_channel {
                    c.count(Hot::AdvertsReceived);
                    c.advert_seen();
                }
                self.stats.count(Hot::checksum(checksum));
                if let Some(why) = checksum_mismatch(router.config().checksum, checksum)
                    && let Some(held) =
                        self.limiter
                            .allow(now(), from, "checksum_convention_mismatch")
                {
                    warn!(instance = %self.name, src = %from, suppressed = held,
                        "VRRPv3 checksum convention mismatch: {why}");
                }
            }
        }
    }
}

/// Why a peer whose adverts carry the `got` checksum convention probably drops ours, sent with
/// `ours`, and the setting that fixes it; `None` when they agree. We accept both forms, but
/// keepalived 2.2 and FRR verify only the pseudo-header form and drop the other as
/// "Invalid VRRPv3 checksum", so a mismatch makes two Masters.
fn checksum_mismatch(ours: V3Checksum, got: ChecksumKind) -> Option<&'static str> {
    match (ours, got) {
        (V3Checksum::Rfc9568, ChecksumKind::V3Ipv4PseudoHeader) => Some(
            "the peer computes its checksum over an IPv4 pseudo-header (keepalived and FRR do) \
             but this instance sends RFC 9568 checksums (v3_checksum: rfc9568); such peers \
             drop our adverts as invalid and also become Master. Set `v3_checksum: pseudo-header`",
        ),
        (V3Checksum::PseudoHeader, ChecksumKind::V3Ipv4Rfc9568) => Some(
            "the peer sends RFC 9568 checksums (no IPv4 pseudo-header; routers and \
             keepalived's v3_checksum_as_v2 do) but this instance includes the pseudo-header \
             (v3_checksum: pseudo-header, the default); a peer that verifies drops our \
             adverts and also becomes Master. Set `v3_checksum: rfc9568`",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checksum_convention_mismatch_names_the_setting_that_fixes_it() {
        let to_pseudo = checksum_mismatch(V3Checksum::Rfc9568, ChecksumKind::V3Ipv4PseudoHeader);
        assert!(to_pseudo.unwrap().contains("v3_checksum: pseudo-header"));
        let to_rfc = checksum_mismatch(V3Checksum::PseudoHeader, ChecksumKind::V3Ipv4Rfc9568);
        assert!(to_rfc.unwrap().contains("v3_checksum: rfc9568`"));
    }

    #[test]
    fn agreeing_or_other_conventions_are_not_a_mismatch() {
        for ours in [V3Checksum::PseudoHeader, V3Checksum::Rfc9568] {
            for got in [ChecksumKind::V2, ChecksumKind::V3Ipv6] {
                assert_eq!(checksum_mismatch(ours, got), None);
            }
        }
        assert_eq!(
            checksum_mismatch(V3Checksum::Rfc9568, ChecksumKind::V3Ipv4Rfc9568),
            None
        );
        assert_eq!(
            checksum_mismatch(V3Checksum::PseudoHeader, ChecksumKind::V3Ipv4PseudoHeader),
            None
        );
    }
}
