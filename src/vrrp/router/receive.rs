//! Judging a received advert against the router's own configuration, so what is accepted
//! changes in the same input as everything else a reload changes, with no copy of the VIPs,
//! interval or password kept in step elsewhere.

use std::time::Instant;

use super::{Action, Advert, Arrival, Packet, Receipt, Router};
use crate::vrrp::packet::{AddressCheck, Expected, check_against};
use crate::vrrp::stamp::Stamp;

impl Router {
    pub(super) fn packet(&mut self, now: Instant, packet: Packet, out: &mut Vec<Action>) {
        let Packet {
            received,
            channel,
            arrival,
        } = packet;
        let expected = Expected {
            version: self.config.version,
            vrid: self.config.vrid,
            auth: self.config.auth,
            interval: self.config.advert_interval,
            vips: &self.config.vips,
            ttl_must_be_255: match arrival {
                Arrival::Multicast => true,
                Arrival::Unicast => self.config.unicast_ttl_check,
                Arrival::Sealed => false,
            },
        };
        let from = received.src;
        let receipt = match check_against(&received, &expected) {
            Err(reject) => Receipt::Rejected(reject),
            Ok(_) if self.config.authenticated_decisions && arrival != Arrival::Sealed => {
                Receipt::Unauthenticated
            }
            Ok(check) => Receipt::Accepted {
                checksum: received.checksum,
                other_addresses: match check {
                    AddressCheck::Match => None,
                    AddressCheck::Mismatch { theirs, .. } => Some(theirs),
                },
            },
        };
        let accepted = matches!(receipt, Receipt::Accepted { .. });
        // Raw adverts decide nothing under authenticated decisions, but they still show that
        // their channel works, so a raw path is not reported lost while it carries the
        // Master. (A forger can make a dead raw path look alive; it can move nothing.)
        let shows_channel = receipt == Receipt::Unauthenticated
            && self.state == crate::vrrp::State::Backup
            && received.advert.priority != 0;
        out.push(Action::Receipt {
            channel,
            from,
            receipt,
        });
        if shows_channel {
            self.channel_heard(Stamp::new(now), channel, out);
        }
        if accepted {
            let advert = Advert {
                from,
                channel,
                priority: received.advert.priority,
                interval: received.advert.interval,
            };
            self.advert(now, advert, out);
        }
    }
}
